/**
 * How a mailbox is woken. The mailbox itself lives in KV; a wake-up only says
 * "look at this mailbox". Two implementations behind one interface:
 *
 * - `queueWakeups`: Deno KV queues. The append's commit carries a wake-up, so
 *   a crash right after the commit still leads to a drain; retries are delayed
 *   queue messages that survive a restart.
 * - `inlineWakeups`: for Deno Deploy and KV Connect, which have no queues. The
 *   caller drains at once; retries are timers, and the minute sweep is the
 *   safety net for everything a timer or a crash loses.
 */
import type { Direction } from "../store/keys.ts";

/**
 * KV queues exist only on a local (SQLite) database outside Deno Deploy:
 * KV Connect rejects `enqueue`, and Deploy does not run queue listeners.
 */
export function kvHasQueues(kvPath: string, env: { deploy?: boolean } = {}): boolean {
  const onDeploy = env.deploy ?? Deno.env.get("DENO_DEPLOYMENT_ID") !== undefined;
  return !onDeploy && !/^https?:\/\//.test(kvPath);
}

export interface WakeTarget {
  dir: Direction;
  userId: string;
}

export interface Wakeups {
  readonly mode: "queue" | "inline";
  /** Adds a durable wake-up to the commit that appends an item (queue mode), or nothing. */
  attach(op: Deno.AtomicOperation, target: WakeTarget): void;
  /** Wakes the mailbox again after `delayMs`. */
  later(target: WakeTarget, delayMs: number): Promise<void>;
  /** Starts delivering wake-ups to `handler`. */
  listen(handler: (target: WakeTarget) => void): void;
  close(): void;
}

/**
 * The queued wake-up of an append is a fallback (the appending process drains
 * at once), so it is held back a little to avoid waking a drain that is busy.
 */
const APPEND_WAKE_DELAY_MS = 1_000;

function isWakeTarget(value: unknown): value is WakeTarget {
  const v = value as Partial<WakeTarget> | null;
  return typeof v === "object" && v !== null && (v.dir === "in" || v.dir === "out") &&
    typeof v.userId === "string";
}

export function queueWakeups(kv: Deno.Kv): Wakeups {
  return {
    mode: "queue",
    attach(op, target) {
      op.enqueue({ dir: target.dir, userId: target.userId }, { delay: APPEND_WAKE_DELAY_MS });
    },
    async later(target, delayMs) {
      await kv.enqueue({ dir: target.dir, userId: target.userId }, {
        delay: Math.max(0, Math.round(delayMs)),
      });
    },
    listen(handler) {
      // The handler must return at once: KV re-delivers a handler that runs past ~5 s.
      kv.listenQueue((message: unknown) => {
        if (isWakeTarget(message)) handler(message);
      }).catch(() => {/* resolves or rejects when KV closes */});
    },
    close() {},
  };
}

export function inlineWakeups(): Wakeups {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let handler: ((target: WakeTarget) => void) | undefined;
  return {
    mode: "inline",
    attach() {},
    later(target, delayMs) {
      const id = setTimeout(() => {
        timers.delete(id);
        handler?.(target);
      }, Math.max(0, delayMs));
      Deno.unrefTimer(id);
      timers.add(id);
      return Promise.resolve();
    },
    listen(h) {
      handler = h;
    },
    close() {
      for (const id of timers) clearTimeout(id);
      timers.clear();
    },
  };
}
