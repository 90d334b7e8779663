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
 * process with its lease, and stops.
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
import { DrainLease, type Lease, LostLease, withStorageRetries } from "./drain_lease.ts";
import { type AppendDeps, appendOnly, appendTakingLease, readIfIdle } from "./mailbox_append.ts";
import { type DrainDeps, drainItems, type TakenLease } from "./mailbox_drain.ts";
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

/** A wake-up this close to a retry's time runs it (timers and queues fire a little early). */
const RETRY_SLACK_MS = 25;
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
  readonly #stats: MailboxStatsCache;
  readonly #drainDeps: DrainDeps;
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
    this.#appendDeps = {
      kv: this.#kv,
      now: this.#now,
      instanceId: this.#instanceId,
      leaseMs: this.#leaseMs,
      seenMarkers: options.seenMarkers ??
        createSeenMarkers(this.#kv, { reconcileWindowMs: 0, now: this.#now }),
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
    const idle = mayTakeLease ? await readIfIdle(this.#appendDeps, target) : undefined;
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
    this.#startDrain(target);
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
          await this.#drain(target, next.taken, next.early);
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

  /** The head item waits for a retry later than now (its own wake-up is scheduled). */
  #retryNotDue(retry: RetryState | null): boolean {
    return retry !== null && retry.nextAt > this.#now() + RETRY_SLACK_MS;
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

  /** One drain: takes the lease (unless an append did), runs the items, ends the lease. */
  async #drain(target: WakeTarget, taken: TakenLease | undefined, early: boolean): Promise<void> {
    const { dir, userId } = target;
    if (!taken) {
      // Most queued wake-ups find the mailbox already drained: one read, no writes.
      const [pending, retry] = await withStorageRetries(() =>
        this.#kv.getMany<[unknown, RetryState]>([
          keys.pending(dir, userId),
          keys.retry(dir, userId),
        ])
      );
      if (pending.versionstamp === null) return;
      // A wake-up delivered twice, or an append behind a failing item, is not a retry.
      if (!early && this.#retryNotDue(retry.value)) return;
    }
    const start = taken ?? await this.#takeLease(target);
    if (!start) return;
    const lease = new DrainLease(this.#kv, start.entry, {
      owner: this.#instanceId,
      leaseMs: this.#leaseMs,
      now: this.#now,
      renewEveryMs: this.#leaseRenewEveryMs,
    });
    if (taken && !taken.appended && !early) {
      // An append took the lease of a mailbox that holds items already: its head may be waiting.
      const retry = await withStorageRetries(() =>
        this.#kv.get<RetryState>(keys.retry(dir, userId))
      );
      if (this.#retryNotDue(retry.value)) {
        await lease.release();
        return;
      }
    }
    this.#leasesHeld.add(lease);
    try {
      await drainItems(this.#drainDeps, target, lease, start);
    } catch (error) {
      if (error instanceof LostLease) {
        if (this.#stopping) {
          this.#log.warn("mailbox stopped during an item; the next drain looks first", {
            dir,
            userId,
          });
        } else this.#log.warn("mailbox lease lost; another instance continues", { dir, userId });
        return;
      }
      // The database failed beyond its retries, or a bug in the drain. The lease is left to run
      // out, so whoever drains next treats the head item as possibly tried and looks first.
      lease.abandon();
      this.#log.error("mailbox drain failed; it is retried when its lease runs out", {
        dir,
        userId,
        error: describeError(error),
      });
      this.#wakeAfter(target, this.#leaseMs + 100);
    } finally {
      this.#leasesHeld.delete(lease);
      await lease.release();
    }
  }

  /** Takes the mailbox's lease if it is free (or ran out); null when another drain holds it. */
  async #takeLease(target: WakeTarget): Promise<TakenLease | null> {
    const key = keys.lease(target.dir, target.userId);
    const current = await withStorageRetries(() => this.#kv.get<Lease>(key));
    const now = this.#now();
    if (current.value && current.value.expiresAt > now) {
      // Another drain holds it. Look again when its lease runs out, in case it died.
      this.#wakeAfter(target, current.value.expiresAt - now + 100);
      return null;
    }
    const lease: Lease = { owner: this.#instanceId, expiresAt: now + this.#leaseMs };
    const res = await withStorageRetries(() =>
      this.#kv.atomic().check(current).set(key, lease).commit()
    );
    if (!res.ok) return null;
    return {
      entry: { key, value: lease, versionstamp: res.versionstamp },
      headMayHaveBeenTried: current.value !== null,
    };
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
