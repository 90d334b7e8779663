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
 *   after its handler succeeded. Every write it makes is fenced by the lease.
 * - A failure is classified by cause (errors.ts). An outage of a service (or of
 *   its credentials) is retried with growing delay and no attempt limit; the
 *   mailbox records which service it waits on, so that the service's recovery
 *   wakes exactly those mailboxes. A failure of the item itself is retried a
 *   bounded number of times (once the service is known to answer), then the
 *   item becomes a dead letter, its sender is told (a follow-up item), and the
 *   items behind it flow.
 * - "May this item have been tried already?" never depends on a drain ending
 *   normally: a normal end always deletes the lease, so a lease record found by
 *   the next drain (a crash, a takeover, an unexpected error) or a retry record
 *   means the handler must look before acting again.
 * - A handler may return follow-up items: they are written in the same commit
 *   that removes the item, right behind it in the same mailbox.
 */
import { classifyFailure, describeError, type Failure } from "../bridge/errors.ts";
import type { Logger, MailboxAppend, MailboxPort } from "../bridge/ports.ts";
import {
  type Direction,
  type ItemPosition,
  keys,
  type MailboxOwner,
  ownerOfKey,
  positionOfKey,
} from "../store/keys.ts";
import { retryDelayMs } from "./backoff.ts";
import { DrainLease, type Lease, LostLease, withStorageRetries } from "./drain_lease.ts";
import { type MailboxStats, MailboxStatsCache } from "./mailbox_stats.ts";
import type { WakeTarget, Wakeups } from "./wakeups.ts";

export type { Lease, MailboxStats };

export interface MailboxEntry<T = unknown> {
  item: T;
  progress: Record<string, unknown>;
  appendedAt: number;
}

export interface RetryState {
  /** Failed attempts in a row at the head item, whatever their cause. */
  attempts: number;
  nextAt: number;
  lastError: string;
  since: number;
  /** Set while the mailbox waits on an outage: that service's recovery wakes it. */
  waitingOn?: Failure["service"];
  /** Failures of the head item itself; at the limit it becomes a dead letter. */
  itemFailures?: number;
}

export interface DeadItem {
  item: unknown;
  reason: string;
  failedAt: number;
  appendedAt?: number;
  /** KV deletes it with `expireIn`, lazily (up to a minute late): readers skip it from here on. */
  expiresAt?: number;
}

/** True while a dead letter is kept (its TTL has not run out). */
export function isKept(dead: DeadItem, now: number): boolean {
  return dead.expiresAt === undefined || dead.expiresAt > now;
}

/** A lease a drain starts with, taken by the append that woke it. */
interface AppendedLease {
  entry: Deno.KvEntryMaybe<Lease>;
  /** A lease record was there already: a drain before this one ended abnormally. */
  foundStale: boolean;
  /** The append found the mailbox empty: its marker and items, as written (no need to read). */
  known?: { pending: Deno.KvEntryMaybe<unknown>; entries: Deno.KvEntry<MailboxEntry>[] };
}

const LIST_BATCH = 100;

/** What the mailbox knows about an attempt. */
export interface AttemptContext {
  /**
   * False when the item may have been attempted before (it failed, or the
   * drain that held it ended abnormally): its side effect may already exist.
   */
  firstAttempt: boolean;
  /** Aborted when the drain lost its lease: start no further side effect. */
  signal: AbortSignal;
}

/**
 * Written in the same commit that removes a finished item: a record, or a
 * follow-up item placed right behind it in the same mailbox.
 */
export type CompletionRecord =
  | { key: Deno.KvKey; value: unknown; expireIn?: number }
  | { followUp: unknown };

/**
 * Processes one item. Throw to fail it; `checkpoint` saves progress before the
 * next side effect. Returned records are written atomically with the item's removal.
 */
export type ItemHandler = (
  userId: string,
  entry: MailboxEntry,
  checkpoint: (progress: Record<string, unknown>) => Promise<void>,
  context: AttemptContext,
) => Promise<void | CompletionRecord[]>;

/** What happened to items, for metrics and health. */
export interface MailboxObserver {
  delivered?(dir: Direction, entry: MailboxEntry): void;
  retrying?(dir: Direction, failure: Failure): void;
  dead?(dir: Direction, reason: string): void;
}

export interface MailboxOptions {
  observer?: MailboxObserver;
  kv: Deno.Kv;
  wakeups: Wakeups;
  handlers: Record<Direction, ItemHandler>;
  log: Logger;
  /**
   * The items that tell an item's sender it was not delivered (written, with
   * the dead letter, behind it in its mailbox). None for an item that is
   * itself such a message.
   */
  tellSender?: (dir: Direction, userId: string, item: unknown, reason: string) => unknown[];
  /**
   * Whether the service answers other requests right now. An item failing at
   * its limit is dead-lettered only when its service answers; else the
   * failure is the service's, and the item waits like in an outage.
   */
  serviceAnswers?: (service: NonNullable<Failure["service"]>) => Promise<boolean>;
  /** Distinguishes this process's leases from other instances'. */
  instanceId?: string;
  leaseMs?: number;
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
const SEEN_TTL_MS = 7 * 24 * 3600_000;

type Outcome = "finished" | "next" | "relist" | "retry-later";

export class Mailboxes implements MailboxPort {
  readonly #kv: Deno.Kv;
  readonly #wakeups: Wakeups;
  readonly #handlers: Record<Direction, ItemHandler>;
  readonly #log: Logger;
  readonly #instanceId: string;
  readonly #leaseMs: number;
  readonly #retryDelayMs: (attempts: number) => number;
  readonly #maxItemFailures: number;
  readonly #deadLetterTtlMs: number;
  readonly #now: () => number;
  readonly #observer: MailboxObserver;
  readonly #tellSender: NonNullable<MailboxOptions["tellSender"]>;
  readonly #serviceAnswers: MailboxOptions["serviceAnswers"];
  readonly #stats: MailboxStatsCache;
  readonly #running = new Map<string, Promise<void>>();
  readonly #appending = new Map<string, Promise<void>>();
  readonly #rerun = new Set<string>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;

  constructor(options: MailboxOptions) {
    this.#kv = options.kv;
    this.#wakeups = options.wakeups;
    this.#handlers = options.handlers;
    this.#log = options.log;
    this.#instanceId = options.instanceId ?? crypto.randomUUID();
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#retryDelayMs = options.retryDelayMs ?? ((attempts) => retryDelayMs(attempts));
    this.#maxItemFailures = options.maxItemFailures ?? DEFAULT_MAX_ITEM_FAILURES;
    this.#deadLetterTtlMs = options.deadLetterTtlMs ?? DEFAULT_DEAD_LETTER_TTL_MS;
    this.#now = options.now ?? Date.now;
    this.#observer = options.observer ?? {};
    this.#tellSender = options.tellSender ?? (() => []);
    this.#serviceAnswers = options.serviceAnswers;
    this.#stats = new MailboxStatsCache(this.#kv, this.#now);
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
    const { dir, userId } = request;
    const leaseKey = keys.lease(dir, userId);
    const pendingKey = keys.pending(dir, userId);
    const retryKey = keys.retry(dir, userId);
    // A drain running here will list the new items itself; otherwise try to take the lease.
    const state = this.#running.has(mailboxId(request)) || this.#stopping
      ? undefined
      : await withStorageRetries(() =>
        this.#kv.getMany<[Lease, RetryState, unknown]>([leaseKey, retryKey, pendingKey])
      );
    const [current, retry, pending] = state ?? [];
    const leaseFree = current !== undefined &&
      (!current.value || current.value.expiresAt <= this.#now());
    // Idle and empty (no marker, no retry waiting): the drain can start from what is written here.
    const wasEmpty = leaseFree && pending?.versionstamp === null &&
      retry?.versionstamp === null;
    const dedupe = request.dedupe === undefined
      ? []
      : Array.isArray(request.dedupe)
      ? request.dedupe
      : [request.dedupe];
    // When taking the lease fails (another drain took it first), append without it.
    for (const takeLease of leaseFree ? [true, false] : [false]) {
      const now = this.#now();
      const op = this.#kv.atomic();
      for (const d of dedupe) {
        const seenKey = keys.seen(d.kind, d.id);
        op.check({ key: seenKey, versionstamp: null }).set(seenKey, now, { expireIn: SEEN_TTL_MS });
      }
      const written: { key: Deno.KvKey; value: MailboxEntry }[] = [];
      for (const { seq, item } of request.items) {
        const entry: MailboxEntry = { item, progress: {}, appendedAt: now };
        const key = keys.mailboxItem(dir, userId, [seq]);
        op.set(key, entry);
        written.push({ key, value: entry });
      }
      const marker = { touchedAt: now };
      op.set(pendingKey, marker);
      const lease: Lease = { owner: this.#instanceId, expiresAt: now + this.#leaseMs };
      if (takeLease && current) op.check(current).set(leaseKey, lease);
      if (takeLease && wasEmpty && pending && retry) op.check(pending).check(retry);
      const result = await withStorageRetries(() => op.commit());
      if (!result.ok) continue; // a dedupe key was seen, or another drain took the lease first
      this.#stats.invalidate();
      const versionstamp = result.versionstamp;
      this.wake(
        { dir, userId },
        takeLease
          ? {
            entry: { key: leaseKey, value: lease, versionstamp },
            foundStale: current?.value !== null,
            ...(wasEmpty
              ? {
                known: {
                  pending: { key: pendingKey, value: marker, versionstamp },
                  entries: written.map((w) => ({ ...w, versionstamp })),
                },
              }
              : {}),
          }
          : undefined,
      );
      return true;
    }
    return false;
  }

  /** Drains the mailbox in this process unless a drain here is already running (it will re-check). */
  wake(target: WakeTarget, appended?: AppendedLease): void {
    if (this.#stopping) return;
    const id = mailboxId(target);
    if (this.#running.has(id)) {
      this.#rerun.add(id);
      return;
    }
    const run = (async () => {
      try {
        let lease = appended;
        do {
          this.#rerun.delete(id);
          await this.#drain(target, lease);
          lease = undefined;
        } while (this.#rerun.has(id) && !this.#stopping);
      } catch (error) {
        // The database failed before a lease was held: nothing was tried; look again soon.
        this.#log.error("mailbox drain could not start", {
          ...target,
          error: describeError(error),
        });
        this.#wakeAfter(target, this.#leaseMs);
      } finally {
        this.#running.delete(id);
        this.#rerun.delete(id);
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
  async wakeWaitingOn(service: NonNullable<Failure["service"]>): Promise<number> {
    let woken = 0;
    for await (const entry of this.#kv.list<RetryState>({ prefix: keys.allRetries() })) {
      if (entry.value.waitingOn !== service) continue;
      this.wake(ownerOfKey(entry.key));
      woken++;
    }
    return woken;
  }

  /** Stops taking work and waits (bounded) for drains in flight to finish their current item. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping = true;
    this.#wakeups.close();
    for (const id of this.#timers) clearTimeout(id);
    const all = Promise.allSettled([...this.#running.values()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
  }

  /** Resolves when no drain is running in this process (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /** Counts for /healthz and /metrics (constant time: see mailbox_stats.ts). */
  stats(): Promise<MailboxStats> {
    return this.#stats.get();
  }

  async #drain(target: WakeTarget, appended?: AppendedLease): Promise<void> {
    const { dir, userId } = target;
    if (!appended) {
      // Most queued wake-ups find the mailbox already drained: one read, no writes.
      const pending = await withStorageRetries(() => this.#kv.get(keys.pending(dir, userId)));
      if (pending.versionstamp === null) return;
    }
    const taken = appended ?? await this.#acquireLease(target);
    if (!taken) return;
    const lease = new DrainLease(this.#kv, taken.entry, {
      owner: this.#instanceId,
      leaseMs: this.#leaseMs,
      now: this.#now,
      renewEveryMs: this.#leaseMs / 3,
    });
    let known = taken.known;
    // Only the first item processed can have been tried by the drain that ended abnormally.
    let headMayBeTried = taken.foundStale;
    try {
      while (!this.#stopping) {
        // The pending marker is read before the mailbox is listed: an append after this read
        // changes the marker (and the closing commit fails); an append before it is listed.
        const [pending, retry] = known
          ? [known.pending, { versionstamp: null }]
          : await withStorageRetries(() =>
            this.#kv.getMany([keys.pending(dir, userId), keys.retry(dir, userId)])
          );
        const entries = known?.entries ?? await this.#list(target);
        known = undefined;
        if (entries.length === 0) {
          if (await this.#clearPending(target, lease, pending)) return;
          continue; // a new item arrived meanwhile: list again
        }
        let relist = false;
        for (const [i, entry] of entries.entries()) {
          if (this.#stopping) return;
          const last = i === entries.length - 1 && entries.length < LIST_BATCH;
          const firstAttempt = !headMayBeTried && (i > 0 || retry.versionstamp === null);
          headMayBeTried = false;
          const outcome = await this.#process(target, entry, lease, firstAttempt, {
            pendingBeforeListing: last ? pending : undefined,
          });
          if (outcome === "retry-later" || outcome === "finished") return;
          if (outcome === "relist") {
            relist = true;
            break;
          }
        }
        if (relist) continue;
      }
    } catch (error) {
      if (error instanceof LostLease) {
        this.#log.warn("mailbox lease lost; another instance continues", { dir, userId });
        return;
      }
      // The database failed beyond its retries, or a bug in this file. The lease is left to run
      // out, so whoever drains next treats the head item as possibly tried and looks first.
      lease.abandon();
      this.#log.error("mailbox drain failed; it is retried when its lease runs out", {
        dir,
        userId,
        error: describeError(error),
      });
      this.#wakeAfter(target, this.#leaseMs + 100);
    } finally {
      await lease.release();
    }
  }

  async #list(target: WakeTarget): Promise<Deno.KvEntry<MailboxEntry>[]> {
    return await withStorageRetries(async () => {
      const entries: Deno.KvEntry<MailboxEntry>[] = [];
      const prefix = keys.mailbox(target.dir, target.userId);
      for await (const e of this.#kv.list<MailboxEntry>({ prefix }, { limit: LIST_BATCH })) {
        entries.push(e);
      }
      return entries;
    });
  }

  /** Runs one item and writes what follows from its outcome. */
  async #process(
    target: WakeTarget,
    entry: Deno.KvEntry<MailboxEntry>,
    lease: DrainLease,
    firstAttempt: boolean,
    /** Given for the last item listed: the pending marker as read before the listing. */
    options: { pendingBeforeListing?: Deno.KvEntryMaybe<unknown> },
  ): Promise<Outcome> {
    const { dir, userId } = target;
    const checkpoint = async (progress: Record<string, unknown>) => {
      if (!await lease.commit((op) => op.set(entry.key, { ...entry.value, progress }))) {
        throw new LostLease();
      }
    };
    let records: void | CompletionRecord[];
    try {
      lease.signal.throwIfAborted();
      records = await this.#handlers[dir](userId, entry.value, checkpoint, {
        firstAttempt,
        signal: lease.signal,
      });
    } catch (error) {
      if (error instanceof LostLease || lease.signal.aborted) throw new LostLease();
      return await this.#failed(target, entry, lease, error);
    }
    const followUps = (records ?? []).flatMap((r) => "followUp" in r ? [r.followUp] : []);
    const done = (op: Deno.AtomicOperation) => {
      op.delete(entry.key).delete(keys.retry(dir, userId));
      for (const r of records ?? []) {
        if ("key" in r) op.set(r.key, r.value, r.expireIn ? { expireIn: r.expireIn } : {});
      }
      this.#writeFollowUps(op, entry, followUps);
      return op;
    };
    const { pendingBeforeListing } = options;
    if (pendingBeforeListing && followUps.length === 0) {
      // The usual case, the last item: delete it, the pending marker and the lease in one
      // commit, unless an append touched the marker since the listing (then carry on).
      const finished = await lease.commit(
        (op, leaseKey) =>
          done(op).check(pendingBeforeListing).delete(keys.pending(dir, userId)).delete(leaseKey),
        { releases: true },
      );
      if (finished) {
        this.#delivered(dir, entry.value);
        return "finished";
      }
    }
    if (!await lease.commit(done)) throw new LostLease();
    this.#delivered(dir, entry.value);
    return followUps.length ? "relist" : "next";
  }

  #delivered(dir: Direction, entry: MailboxEntry) {
    this.#stats.invalidate();
    this.#observer.delivered?.(dir, entry);
  }

  #writeFollowUps(op: Deno.AtomicOperation, entry: Deno.KvEntry<MailboxEntry>, items: unknown[]) {
    const { dir, userId } = ownerOfKey(entry.key);
    const position = positionOfKey(entry.key);
    const now = this.#now();
    items.forEach((item, n) => {
      const value: MailboxEntry = { item, progress: {}, appendedAt: now };
      op.set(keys.mailboxItem(dir, userId, [...position, n]), value);
    });
  }

  /** An item's handler failed: wait and retry, or give it up. */
  async #failed(
    target: WakeTarget,
    entry: Deno.KvEntry<MailboxEntry>,
    lease: DrainLease,
    error: unknown,
  ): Promise<Outcome> {
    let failure = classifyFailure(error);
    // A server error while the service answers its health check is this item's, not an outage:
    // it keeps its own backoff and its bounded attempts (no probe wakes it every few seconds).
    if (
      failure.cause === "outage" && failure.mayBeItem && failure.service !== "storage" &&
      this.#serviceAnswers && await this.#serviceAnswers(failure.service)
    ) failure = { cause: "item", service: failure.service, reason: failure.reason };
    const retryKey = keys.retry(target.dir, target.userId);
    const previous = (await withStorageRetries(() => this.#kv.get<RetryState>(retryKey))).value;
    let itemFailures = previous?.itemFailures ?? 0;
    let waitingOn = failure.cause === "outage" ? failure.service : undefined;
    if (failure.cause === "item") {
      itemFailures++;
      if (itemFailures >= this.#maxItemFailures) {
        // Blame the item only when its service answers other requests.
        const service = failure.service;
        if (!service || !this.#serviceAnswers || await this.#serviceAnswers(service)) {
          await this.#deadLetter(target, entry, lease, failure.reason);
          return "relist";
        }
        waitingOn = service;
        itemFailures = this.#maxItemFailures - 1;
      }
    }
    const attempts = (previous?.attempts ?? 0) + 1;
    const delay = this.#retryDelayMs(waitingOn ? attempts : itemFailures);
    const now = this.#now();
    const state: RetryState = {
      attempts,
      nextAt: now + delay,
      lastError: failure.reason,
      since: previous?.since ?? now,
      ...(waitingOn ? { waitingOn } : {}),
      ...(itemFailures ? { itemFailures } : {}),
    };
    if (!await lease.commit((op) => op.set(retryKey, state))) throw new LostLease();
    this.#stats.invalidate();
    this.#observer.retrying?.(target.dir, failure);
    this.#wakeAfter(target, delay);
    this.#log.warn("delivery failed; will retry", {
      dir: target.dir,
      userId: target.userId,
      cause: failure.cause,
      ...(waitingOn ? { waitingOn } : { itemFailures }),
      attempts,
      retryInMs: delay,
      error: state.lastError,
    });
    return "retry-later";
  }

  async #deadLetter(
    target: WakeTarget,
    entry: Deno.KvEntry<MailboxEntry>,
    lease: DrainLease,
    reason: string,
  ) {
    const { dir, userId } = target;
    const failedAt = this.#now();
    const dead: DeadItem = {
      item: entry.value.item,
      reason,
      failedAt,
      appendedAt: entry.value.appendedAt,
      expiresAt: failedAt + this.#deadLetterTtlMs,
    };
    const tell = this.#tellSender(dir, userId, entry.value.item, reason);
    const committed = await lease.commit((op) => {
      op.delete(entry.key).delete(keys.retry(dir, userId))
        .set(keys.deadItem(dir, userId, positionOfKey(entry.key)), dead, {
          expireIn: this.#deadLetterTtlMs,
        });
      this.#writeFollowUps(op, entry, tell);
      return op;
    });
    if (!committed) throw new LostLease();
    this.#stats.invalidate();
    this.#observer.dead?.(dir, reason);
    this.#log.error("item failed for good; kept as dead letter", {
      dir,
      userId,
      reason,
      senderTold: tell.length > 0,
    });
  }

  /** Wakes the mailbox again after `delayMs` (a queued wake-up, and a timer in case it fails). */
  #wakeAfter(target: WakeTarget, delayMs: number) {
    this.#wakeups.later(target, delayMs).catch((error) => {
      this.#log.warn("could not schedule a wake-up; using a timer", {
        ...target,
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

  /**
   * The mailbox is empty: deletes the pending marker and releases the lease,
   * unless an append touched the marker since (then returns false: list again).
   */
  async #clearPending(
    target: WakeTarget,
    lease: DrainLease,
    pending: Deno.KvEntryMaybe<unknown>,
  ): Promise<boolean> {
    return await lease.commit(
      (op, leaseKey) =>
        op.check(pending).delete(keys.pending(target.dir, target.userId)).delete(leaseKey),
      { releases: true },
    );
  }

  async #acquireLease(target: WakeTarget): Promise<AppendedLease | null> {
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
      foundStale: current.value !== null,
    };
  }
}

function mailboxId(owner: MailboxOwner): string {
  return `${owner.dir}:${owner.userId}`;
}

export type { ItemPosition };
