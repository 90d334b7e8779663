/**
 * One scheduler for every Discord REST request the bridge makes under
 * Discord's global limit (50 requests per second per bot; going over earns a
 * global 429 that stops every request).
 *
 * Contracts:
 * - Smooth spacing: requests start one every 1000/`perSecond` ms at most (a
 *   leaky bucket, not a window: a window lets a whole second's worth start
 *   at once, and network jitter then lands some of them in Discord's next
 *   second). Discordeno can still bunch granted requests up (its per-route
 *   queue, its retries), so send_gate.ts counts the sends themselves too.
 * - Priorities, for each free slot: first what a mailbox item sends (agent
 *   replies, notices, deletions, edits, and the reads they need), in arrival
 *   order; then typing; then ✅ confirmations. Interaction callbacks and
 *   follow-ups are not under the global limit and never enter here
 *   (Discordeno sends them directly).
 * - Best-effort classes (typing, confirmations) are fire-and-forget: `offer`
 *   returns at once, so nothing ever waits on them. A request older than its
 *   class's `staleMs` when its slot comes is dropped, never sent late (a ✅
 *   seconds late helps nobody); when `maxQueued` already wait, the oldest is
 *   dropped for the new one (the newest is the one still fresh when a slot
 *   comes). Every drop and failure is reported to `onDropped`; nothing is
 *   retried.
 * - Best-effort requests take the slots replies leave, and also one slot in
 *   `bestEffortEvery` while replies queue: only a sustained reply backlog
 *   fills every slot, and then a trickle of ✅ and typing (about 5 % of the
 *   budget at the default) still goes out instead of none, while replies keep
 *   the rest. The share is taken only when a fresh best-effort request waits,
 *   so it costs replies nothing otherwise. No class can starve replies.
 * - Discordeno still paces each route by the X-RateLimit headers after a
 *   request gets its slot here.
 */

export type BestEffortClass = "typing" | "confirmation";
export type DropReason = "stale" | "queue_full" | "failed";

/** The knobs (production defaults below; tests shrink them). */
export interface RequestSchedulerSettings {
  /** The global budget in requests per second (default 48: under 50, with room for jitter). */
  perSecond?: number;
  /** A ✅ still waiting after this long is dropped (default 3 s). */
  confirmationStaleMs?: number;
  /** A typing indicator still waiting after this long is dropped (default 2 s). */
  typingStaleMs?: number;
  /** At most this many requests of one best-effort class wait (default 200). */
  bestEffortQueueMax?: number;
  /** While replies queue, one slot in this many goes to a waiting best-effort request (default 20). */
  bestEffortEvery?: number;
}

/** Time and timers, injectable so tests control the clock. */
export interface SchedulerClock {
  now(): number;
  /** Runs `run` after `ms`; returns the cancel. */
  setTimer(run: () => void, ms: number): () => void;
}

export interface RequestSchedulerOptions extends RequestSchedulerSettings {
  clock?: SchedulerClock;
  /** A best-effort request was dropped or failed (`error` when it failed). */
  onDropped?(cls: BestEffortClass, reason: DropReason, error?: unknown): void;
}

export interface RequestScheduler {
  /**
   * Resolves when a request that must go (a mailbox item's) may start: ahead
   * of every best-effort request, in arrival order. Rejects once stopped.
   */
  take(): Promise<void>;
  /** Queues a best-effort request; returns at once, never throws. */
  offer(cls: BestEffortClass, send: () => Promise<unknown>): void;
  /** How many requests wait, by class. */
  waiting(): { replies: number; typing: number; confirmation: number };
  /** Drops what waits (best-effort silently; `take` callers are rejected) and stops the timer. */
  stop(): void;
}

/** Discord allows 50 per second; the send gate (send_gate.ts) holds the line at the send itself. */
const DISCORD_REQUESTS_PER_SECOND = 48;
const CONFIRMATION_STALE_MS = 3_000;
const TYPING_STALE_MS = 2_000;
const BEST_EFFORT_QUEUE_MAX = 200;
const BEST_EFFORT_EVERY = 20;

const realClock: SchedulerClock = {
  now: () => performance.now(),
  setTimer: (run, ms) => {
    const id = setTimeout(run, ms);
    return () => clearTimeout(id);
  },
};

interface Waiter {
  start(): void;
  fail(error: Error): void;
}

interface Offered {
  at: number;
  send: () => Promise<unknown>;
}

/** A FIFO with O(1) shift (arrays shift in O(n) once they grow). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  peek(): T | undefined {
    return this.#items[this.#head];
  }
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
  clear(): T[] {
    const rest = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}

export function createRequestScheduler(options: RequestSchedulerOptions = {}): RequestScheduler {
  const clock = options.clock ?? realClock;
  const spacing = 1000 / (options.perSecond ?? DISCORD_REQUESTS_PER_SECOND);
  const staleMs: Record<BestEffortClass, number> = {
    confirmation: options.confirmationStaleMs ?? CONFIRMATION_STALE_MS,
    typing: options.typingStaleMs ?? TYPING_STALE_MS,
  };
  const queueMax = Math.max(1, options.bestEffortQueueMax ?? BEST_EFFORT_QUEUE_MAX);
  const every = Math.max(1, options.bestEffortEvery ?? BEST_EFFORT_EVERY);
  const replies = new Fifo<Waiter>();
  // In priority order.
  const bestEffort: [BestEffortClass, Fifo<Offered>][] = [
    ["typing", new Fifo<Offered>()],
    ["confirmation", new Fifo<Offered>()],
  ];
  const queueOf = (cls: BestEffortClass) => bestEffort.find(([c]) => c === cls)![1];
  const dropped = (cls: BestEffortClass, reason: DropReason, error?: unknown) => {
    try {
      options.onDropped?.(cls, reason, error);
    } catch { /* a counter must not break scheduling */ }
  };
  /** When the next request may start. */
  let next = -Infinity;
  /** Slots in a row given to replies while best-effort requests waited. */
  let repliesInARow = 0;
  /** The cancel of the pending timer, if one is pending. */
  let timer: (() => void) | undefined;
  let stopped = false;

  const dropStale = (t: number) => {
    for (const [cls, queue] of bestEffort) {
      // Each class is in arrival order with one age limit: the stale ones are at the head.
      while (queue.length && t - queue.peek()!.at >= staleMs[cls]) {
        queue.shift();
        dropped(cls, "stale");
      }
    }
  };

  const pick = (): (() => void) | undefined => {
    const fresh = bestEffort.find(([, queue]) => queue.length > 0);
    if (replies.length && !(fresh && repliesInARow >= every - 1)) {
      if (fresh) repliesInARow++;
      const waiter = replies.shift()!;
      return () => waiter.start();
    }
    if (!fresh) return undefined;
    repliesInARow = 0;
    const [cls, queue] = fresh;
    const offered = queue.shift()!;
    return () => {
      let sending: Promise<unknown>;
      try {
        sending = offered.send();
      } catch (error) {
        sending = Promise.reject(error);
      }
      sending.catch((error) => dropped(cls, "failed", error));
    };
  };

  const waiting = () => replies.length + bestEffort.reduce((n, [, q]) => n + q.length, 0);

  const pump = () => {
    if (stopped) return;
    const t = clock.now();
    dropStale(t);
    if (t < next) return arm(next - t);
    const start = pick();
    if (!start) return;
    // On the ideal timeline: a timer that fired late does not cost the budget a slot (the send
    // gate still holds the line per rolling second); after an idle gap, start afresh.
    next = (t - next < spacing ? next : t) + spacing;
    start();
    if (waiting() > 0) arm(spacing);
  };

  const arm = (ms: number) => {
    if (timer !== undefined || stopped) return;
    timer = clock.setTimer(() => {
      timer = undefined;
      pump();
    }, ms);
  };

  return {
    take() {
      if (stopped) return Promise.reject(new Error("the Discord request scheduler is stopped"));
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      replies.push({ start: resolve, fail: reject });
      pump();
      return promise;
    },
    offer(cls, send) {
      if (stopped) return;
      const queue = queueOf(cls);
      const t = clock.now();
      dropStale(t);
      while (queue.length >= queueMax) {
        queue.shift();
        dropped(cls, "queue_full");
      }
      queue.push({ at: t, send });
      pump();
    },
    waiting: () => ({
      replies: replies.length,
      typing: queueOf("typing").length,
      confirmation: queueOf("confirmation").length,
    }),
    stop() {
      stopped = true;
      timer?.();
      timer = undefined;
      for (const [, queue] of bestEffort) queue.clear();
      const error = new Error("the Discord request scheduler is stopped");
      for (const waiter of replies.clear()) waiter.fail(error);
    },
  };
}
