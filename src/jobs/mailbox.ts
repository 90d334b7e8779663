/**
 * Durable per-user mailboxes (see ARCHITECTURE.md, "The durable mailbox").
 *
 * Contract:
 * - `append` stores items, the mailbox's pending marker (and, when free, its
 *   lease) in one atomic commit, optionally guarded by dedupe keys; it returns
 *   false for a duplicate. The appending process drains at once; a crash in
 *   between is healed by the sweeps, which find the pending marker.
 * - A drain holds the mailbox lease (renewed while it runs, see
 *   drain_lease.ts), processes items in key order and deletes an item only
 *   after its handler succeeded (mailbox_drain.ts). Every write it makes is
 *   fenced by the lease.
 * - A failure is classified by cause (mailbox_failures.ts): an outage waits
 *   for its service without an attempt limit; a failure of the item itself is
 *   retried a bounded number of times, then the item becomes a dead letter,
 *   its sender is told, and the items behind it flow.
 * - "May this item have been tried already?" never depends on a drain ending
 *   normally: a normal end always deletes the lease, so a lease record found by
 *   the next drain (a crash, a takeover, an unexpected error, a stop that could
 *   not wait) or a retry record means the handler must look before acting again.
 * - A handler may return follow-up items: they are written in the same commit
 *   that removes the item, into the user's other mailbox (each mailbox talks to
 *   one service; follow-ups are for the other one), which is then woken.
 *
 * This file schedules: it takes wake-ups, starts one drain per mailbox per
 * process (mailbox_leased_drain.ts takes its lease and runs it), and stops.
 */
import { describeError, type OutageService } from "../bridge/errors.ts";
import type { Logger, MailboxAppend, MailboxPort } from "../bridge/ports.ts";
import {
  type Direction,
  type ItemPosition,
  keys,
  type MailboxOwner,
  ownerOfKey,
} from "../store/keys.ts";
import { createSeenMarkers, type SeenMarkers } from "../store/seen.ts";
import { retryDelayMs } from "./backoff.ts";
import type { DrainLease, Lease } from "./drain_lease.ts";
import { GroupCommit } from "./group_commit.ts";
import {
  type AppendDeps,
  appendOnly,
  appendTakingLease,
  readMailboxState,
} from "./mailbox_append.ts";
import type { TakenLease } from "./mailbox_drain.ts";
import { drainUnderLease, type LeasedDrainDeps } from "./mailbox_leased_drain.ts";
import type { ItemHandler, MailboxObserver, RetryState } from "./mailbox_records.ts";
import { type MailboxStats, MailboxStatsCache } from "./mailbox_stats.ts";
import type { WakeTarget, Wakeups } from "./wakeups.ts";

export type {
  AttemptContext,
  CompletionRecord,
  DeadItem,
  ItemHandler,
  MailboxEntry,
  MailboxObserver,
  RetryState,
} from "./mailbox_records.ts";
export { isKept } from "./mailbox_records.ts";
export type { ItemPosition, Lease, MailboxStats };

export interface MailboxOptions {
  observer?: MailboxObserver;
  kv: Deno.Kv;
  wakeups: Wakeups;
  handlers: Record<Direction, ItemHandler>;
  log: Logger;
  /**
   * The items that tell an item's sender it was not delivered (written, with
   * the dead letter, into the user's other mailbox). None for an item that is
   * itself such a message.
   */
  tellSender?: (dir: Direction, userId: string, item: unknown, reason: string) => unknown[];
  /**
   * Whether the service answers other requests right now. An item failing at
   * its limit is dead-lettered only when its service answers; else the
   * failure is the service's, and the item waits like in an outage.
   */
  serviceAnswers?: (service: OutageService) => Promise<boolean>;
  /**
   * Whether another delivery to the service succeeded since `sinceMs`. A
   * server error is blamed on its item only then (else the service is failing
   * for everyone, and the item waits like in an outage).
   */
  deliveredSince?: (service: OutageService, sinceMs: number) => boolean;
  /**
   * Writes an append's dedupe markers (with their expiry by kind). Without
   * it, markers are written here and kept a week.
   */
  seenMarkers?: Pick<SeenMarkers, "guard">;
  /** Distinguishes this process's leases from other instances'. */
  instanceId?: string;
  leaseMs?: number;
  /**
   * How often a running drain renews its lease (default: a third of
   * `leaseMs`). Tests set it past the lease to play a process that stalls.
   */
  leaseRenewEveryMs?: number;
  /** Delay before retry number `attempts` (tests make it short). */
  retryDelayMs?: (attempts: number) => number;
  /** Attempts an item gets when it fails by itself (not an outage). */
  maxItemFailures?: number;
  /** How long dead letters are kept. */
  deadLetterTtlMs?: number;
  now?: () => number;
}

/**
 * How long a drain may go silent before another instance (or this one,
 * restarted after a crash) takes the mailbox over. The drain renews it every
 * third of that while it runs, so only a dead or stalled process loses it.
 */
const DEFAULT_LEASE_MS = 15_000;
const DEFAULT_MAX_ITEM_FAILURES = 5;
const DEFAULT_DEAD_LETTER_TTL_MS = 30 * 24 * 3600_000;

export class Mailboxes implements MailboxPort {
  readonly #kv: Deno.Kv;
  readonly #wakeups: Wakeups;
  readonly #log: Logger;
  readonly #instanceId: string;
  readonly #leaseMs: number;
  readonly #leaseRenewEveryMs: number;
  readonly #now: () => number;
  readonly #appendDeps: AppendDeps;
  /** Appends and drain writes of different mailboxes, committed together under load. */
  readonly #commits: GroupCommit;
  readonly #stats: MailboxStatsCache;
  readonly #drainDeps: LeasedDrainDeps;
  /** The drain running in this process, by mailbox. */
  readonly #running = new Map<string, Promise<void>>();
  /** Mailboxes to drain once more when their running drain ends (with a lease taken meanwhile). */
  readonly #drainAgain = new Map<string, { taken?: TakenLease; early: boolean }>();
  /** Leases held by the drains running here (given up when `stop` cannot wait for them). */
  readonly #leasesHeld = new Set<DrainLease>();
  /** Appends in progress, by mailbox: each waits for the one before it. */
  readonly #appending = new Map<string, Promise<void>>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;

  constructor(options: MailboxOptions) {
    this.#kv = options.kv;
    this.#wakeups = options.wakeups;
    this.#log = options.log;
    this.#instanceId = options.instanceId ?? crypto.randomUUID();
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#leaseRenewEveryMs = options.leaseRenewEveryMs ?? this.#leaseMs / 3;
    this.#now = options.now ?? Date.now;
    this.#stats = new MailboxStatsCache(this.#kv, this.#now);
    this.#commits = new GroupCommit(this.#kv);
    this.#appendDeps = {
      kv: this.#kv,
      now: this.#now,
      instanceId: this.#instanceId,
      leaseMs: this.#leaseMs,
      seenMarkers: options.seenMarkers ??
        createSeenMarkers(this.#kv, { reconcileWindowMs: 0, now: this.#now }),
      commits: this.#commits,
    };
    this.#drainDeps = {
      kv: this.#kv,
      now: this.#now,
      log: this.#log,
      handlers: options.handlers,
      observer: options.observer ?? {},
      countsChanged: () => this.#stats.invalidate(),
      wakeAfter: (target, delayMs) => this.#wakeAfter(target, delayMs),
      wake: (target) => this.wake(target),
      stopping: () => this.#stopping,
      retryDelayMs: options.retryDelayMs ?? ((attempts) => retryDelayMs(attempts)),
      maxItemFailures: options.maxItemFailures ?? DEFAULT_MAX_ITEM_FAILURES,
      deadLetterTtlMs: options.deadLetterTtlMs ?? DEFAULT_DEAD_LETTER_TTL_MS,
      tellSender: options.tellSender ?? (() => []),
      ...(options.serviceAnswers ? { serviceAnswers: options.serviceAnswers } : {}),
      ...(options.deliveredSince ? { deliveredSince: options.deliveredSince } : {}),
      instanceId: this.#instanceId,
      leaseMs: this.#leaseMs,
      leaseRenewEveryMs: this.#leaseRenewEveryMs,
      commits: this.#commits,
      leasesHeld: this.#leasesHeld,
    };
  }

  /** Starts taking wake-ups from the queue (or timers). */
  listen(): void {
    this.#wakeups.listen((target) => this.wake(target));
  }

  /**
   * Appends items; returns false when a dedupe key was already seen. Wakes the
   * mailbox. When the mailbox is idle, its lease is taken in the same commit,
   * so the drain starts without another write.
   */
  append(request: MailboxAppend): Promise<boolean> {
    // Appends to one mailbox commit in the order they were asked for: two DMs a user sends
    // within a millisecond must not be queued the other way round.
    const id = mailboxId(request);
    const previous = this.#appending.get(id);
    const run = previous ? previous.then(() => this.#append(request)) : this.#append(request);
    const settled = run.then(() => {}, () => {});
    this.#appending.set(id, settled);
    settled.then(() => {
      if (this.#appending.get(id) === settled) this.#appending.delete(id);
    });
    return run;
  }

  async #append(request: MailboxAppend): Promise<boolean> {
    const target: WakeTarget = { dir: request.dir, userId: request.userId };
    // A drain running here lists the new items itself; after stop, no drain starts.
    const mayTakeLease = !this.#running.has(mailboxId(target)) && !this.#stopping;
    const state = mayTakeLease ? await readMailboxState(this.#appendDeps, target) : undefined;
    const idle = state?.idle;
    if (idle) {
      const taken = await appendTakingLease(this.#appendDeps, request, idle);
      if (taken) {
        this.#stats.invalidate();
        this.#startDrain(target, taken);
        return true;
      }
      // A dedupe key was seen (then the plain append fails too), or another drain took the lease.
    }
    if (!await appendOnly(this.#appendDeps, request)) return false;
    this.#stats.invalidate();
    // Behind an item waiting for its retry, the new item waits too (its wake-up is scheduled).
    if (!state?.retryWaits) this.#startDrain(target);
    return true;
  }

  /**
   * Drains the mailbox in this process unless a drain here is already running
   * (it will re-check). A mailbox whose head item waits for its retry is left
   * alone until then, unless `early` (its service is known to be back).
   */
  wake(target: WakeTarget, options: { early?: boolean } = {}): void {
    this.#startDrain(target, undefined, options.early ?? false);
  }

  resume(dir: Direction, userId: string): void {
    this.wake({ dir, userId }, { early: true });
  }

  #startDrain(target: WakeTarget, taken?: TakenLease, early = false): void {
    if (this.#stopping) return;
    const id = mailboxId(target);
    if (this.#running.has(id)) {
      // The running drain may be past its last listing: drain once more after it. A lease
      // taken meanwhile (by an append) is handed on, not left to run out.
      const waiting = this.#drainAgain.get(id);
      this.#drainAgain.set(id, {
        taken: taken ?? waiting?.taken,
        early: early || (waiting?.early ?? false),
      });
      return;
    }
    const run = (async () => {
      try {
        let next: { taken?: TakenLease; early: boolean } | undefined = { taken, early };
        do {
          this.#drainAgain.delete(id);
          await drainUnderLease(this.#drainDeps, target, next.taken, next.early);
          next = this.#drainAgain.get(id);
        } while (next && !this.#stopping);
      } catch (error) {
        // The database failed before a lease was held: nothing was tried; look again soon.
        this.#log.error("mailbox drain could not start", {
          dir: target.dir,
          userId: target.userId,
          error: describeError(error),
        });
        this.#wakeAfter(target, this.#leaseMs);
      } finally {
        this.#running.delete(id);
        this.#drainAgain.delete(id);
      }
    })();
    this.#running.set(id, run);
  }

  /** Wakes every mailbox that holds items and is due (no retry scheduled for later). */
  async sweep(): Promise<number> {
    let woken = 0;
    const now = this.#now();
    for await (const entry of this.#kv.list<unknown>({ prefix: keys.allPending() })) {
      const owner = ownerOfKey(entry.key);
      const retry = (await this.#kv.get<RetryState>(keys.retry(owner.dir, owner.userId))).value;
      if (retry && retry.nextAt > now) continue;
      if (this.#running.has(mailboxId(owner))) continue;
      this.wake(owner);
      woken++;
    }
    return woken;
  }

  /** Wakes the mailboxes that wait on an outage of `service`, now (it is known to be back). */
  async wakeWaitingOn(service: OutageService): Promise<number> {
    let woken = 0;
    for await (const entry of this.#kv.list<RetryState>({ prefix: keys.allRetries() })) {
      if (entry.value.waitingOn !== service) continue;
      this.wake(ownerOfKey(entry.key), { early: true });
      woken++;
    }
    return woken;
  }

  /**
   * Stops taking work and waits (bounded) for drains in flight to finish their
   * current item. An item still running after that is given up: its handler is
   * told to stop, nothing more is written, and its lease is left to run out, so
   * the next drain (here after a restart, or another instance) looks before
   * repeating it.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping = true;
    this.#wakeups.close();
    for (const id of this.#timers) clearTimeout(id);
    const all = Promise.allSettled([...this.#running.values()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
    for (const lease of this.#leasesHeld) lease.abandon();
  }

  /** Resolves when no drain is running in this process (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /** Counts for /healthz and /metrics (constant time: see mailbox_stats.ts). */
  stats(): Promise<MailboxStats> {
    return this.#stats.get();
  }

  /** Wakes the mailbox again after `delayMs` (a queued wake-up, and a timer in case it fails). */
  #wakeAfter(target: WakeTarget, delayMs: number) {
    this.#wakeups.later(target, delayMs).catch((error) => {
      this.#log.warn("could not schedule a wake-up; using a timer", {
        dir: target.dir,
        userId: target.userId,
        error: describeError(error),
      });
      const id = setTimeout(() => {
        this.#timers.delete(id);
        this.wake(target);
      }, delayMs);
      Deno.unrefTimer(id);
      this.#timers.add(id);
    });
  }
}

function mailboxId(owner: MailboxOwner): string {
  return `${owner.dir}:${owner.userId}`;
}
