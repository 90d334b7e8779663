/**
 * Durable per-user mailboxes (see ARCHITECTURE.md, "The durable mailbox").
 *
 * Contract:
 * - `append` stores items, the mailbox's pending marker (and, when free, its
 *   lease) in one atomic commit, optionally guarded by dedupe keys; it returns
 *   false for a duplicate. The appending process drains at once; a crash in
 *   between is healed by the sweeps, which find the pending marker.
 * - A drain holds the mailbox lease, processes items in key order, deletes an
 *   item only after its handler succeeded, and stops at the first retryable
 *   failure, scheduling its own retry with growing delay and no attempt limit.
 *   A failure that retrying cannot fix moves the item to the dead letters.
 * - Every write a drain makes is fenced by the lease's versionstamp: a drain
 *   that lost its lease (expired while it was stalled) cannot delete or
 *   update anything.
 */
import { describeError, isRetryable } from "../bridge/errors.ts";
import type { Logger, MailboxAppend, MailboxPort } from "../bridge/ports.ts";
import { type Direction, keys } from "../store/keys.ts";
import { retryDelayMs } from "./backoff.ts";
import type { WakeTarget, Wakeups } from "./wakeups.ts";

export interface MailboxEntry<T = unknown> {
  item: T;
  progress: Record<string, unknown>;
  appendedAt: number;
}

export interface Lease {
  owner: string;
  expiresAt: number;
}

export interface RetryState {
  attempts: number;
  nextAt: number;
  lastError: string;
  since: number;
}

export interface DeadItem {
  item: unknown;
  reason: string;
  failedAt: number;
}

/** A lease this drain holds, and whether it was taken over from another (dead) drainer. */
interface HeldLease {
  entry: Deno.KvEntryMaybe<Lease>;
  takenOver: boolean;
  /** The append found the mailbox empty: its marker and items, as written (no need to read). */
  known?: { pending: Deno.KvEntryMaybe<unknown>; entries: Deno.KvEntry<MailboxEntry>[] };
}

const LIST_BATCH = 100;

/** What the mailbox knows about an attempt. */
export interface AttemptContext {
  /**
   * False when the item may have been attempted before (it failed, or the
   * drain that held it died): its side effect may already exist.
   */
  firstAttempt: boolean;
}

/** A record written in the same commit that removes a finished item. */
export interface CompletionRecord {
  key: Deno.KvKey;
  value: unknown;
  expireIn?: number;
}

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

/** What happened to items, for metrics. */
export interface MailboxObserver {
  delivered?(dir: Direction, entry: MailboxEntry): void;
  retrying?(dir: Direction, error: unknown): void;
  dead?(dir: Direction, reason: string): void;
}

export interface MailboxOptions {
  observer?: MailboxObserver;
  kv: Deno.Kv;
  wakeups: Wakeups;
  handlers: Record<Direction, ItemHandler>;
  log: Logger;
  /** Distinguishes this process's leases from other instances'. */
  instanceId?: string;
  leaseMs?: number;
  now?: () => number;
}

const SEEN_TTL_MS = 7 * 24 * 3600_000;
/**
 * How long a drain may go silent before another instance (or this one,
 * restarted after a crash) takes the mailbox over: short, because it is also
 * how long a crash delays the mailbox. A drain renews it halfway, and every
 * side effect is idempotent, so an overlap cannot post twice.
 */
const DEFAULT_LEASE_MS = 15_000;

class LostLease extends Error {
  constructor() {
    super("mailbox lease lost to another instance");
  }
}

export class Mailboxes implements MailboxPort {
  readonly #kv: Deno.Kv;
  readonly #wakeups: Wakeups;
  readonly #handlers: Record<Direction, ItemHandler>;
  readonly #log: Logger;
  readonly #instanceId: string;
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #observer: MailboxObserver;
  readonly #running = new Map<string, Promise<void>>();
  readonly #appending = new Map<string, Promise<void>>();
  readonly #rerun = new Set<string>();
  #stopping = false;

  constructor(options: MailboxOptions) {
    this.#kv = options.kv;
    this.#wakeups = options.wakeups;
    this.#handlers = options.handlers;
    this.#log = options.log;
    this.#instanceId = options.instanceId ?? crypto.randomUUID();
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#now = options.now ?? Date.now;
    this.#observer = options.observer ?? {};
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
    const id = `${request.dir}:${request.userId}`;
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
    const [current, retry, pending] = this.#running.has(`${dir}:${userId}`) || this.#stopping
      ? []
      : await this.#kv.getMany<[Lease, RetryState, unknown]>([leaseKey, retryKey, pendingKey]);
    const leaseFree = current !== undefined &&
      (!current.value || current.value.expiresAt <= this.#now());
    // Idle and empty (no marker, no retry waiting): the drain can start from what is written here.
    const wasEmpty = leaseFree && pending!.versionstamp === null && retry!.versionstamp === null;
    for (const takeLease of leaseFree ? [true, false] : [false]) {
      const now = this.#now();
      const op = this.#kv.atomic();
      const dedupe = request.dedupe === undefined
        ? []
        : Array.isArray(request.dedupe)
        ? request.dedupe
        : [request.dedupe];
      for (const d of dedupe) {
        const seenKey = keys.seen(d.kind, d.id);
        op.check({ key: seenKey, versionstamp: null }).set(seenKey, now, { expireIn: SEEN_TTL_MS });
      }
      const written: { key: Deno.KvKey; value: MailboxEntry }[] = [];
      for (const { seq, item } of request.items) {
        const entry: MailboxEntry = { item, progress: {}, appendedAt: now };
        const key = keys.mailboxItem(dir, userId, seq);
        op.set(key, entry);
        written.push({ key, value: entry });
      }
      const marker = { touchedAt: now };
      op.set(pendingKey, marker);
      const lease: Lease = { owner: this.#instanceId, expiresAt: now + this.#leaseMs };
      if (takeLease) op.check(current!).set(leaseKey, lease);
      if (takeLease && wasEmpty) op.check(pending!).check(retry!);
      const result = await op.commit();
      if (!result.ok) continue; // a dedupe key was seen, or another drain took the lease first
      const versionstamp = result.versionstamp;
      this.wake(
        { dir, userId },
        takeLease
          ? {
            entry: { key: leaseKey, value: lease, versionstamp },
            takenOver: current!.value !== null && current!.value.owner !== this.#instanceId,
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
  wake(target: WakeTarget, held?: HeldLease): void {
    if (this.#stopping) return;
    const id = `${target.dir}:${target.userId}`;
    if (this.#running.has(id)) {
      this.#rerun.add(id);
      return;
    }
    const run = (async () => {
      try {
        let lease = held;
        do {
          this.#rerun.delete(id);
          await this.#drain(target, lease);
          lease = undefined;
        } while (this.#rerun.has(id) && !this.#stopping);
      } catch (error) {
        this.#log.error("mailbox drain crashed", { ...target, error: describeError(error) });
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
      const [, dir, userId] = entry.key as [string, Direction, string];
      const retry = (await this.#kv.get<RetryState>(keys.retry(dir, userId))).value;
      if (retry && retry.nextAt > now) continue;
      if (this.#running.has(`${dir}:${userId}`)) continue;
      this.wake({ dir, userId });
      woken++;
    }
    return woken;
  }

  /** Wakes every mailbox waiting to retry, now (the failing service is known to be back). */
  async wakeRetrying(): Promise<number> {
    let woken = 0;
    for await (const entry of this.#kv.list<RetryState>({ prefix: keys.allRetries() })) {
      const [, dir, userId] = entry.key as [string, Direction, string];
      this.wake({ dir, userId });
      woken++;
    }
    return woken;
  }

  /** Stops taking work and waits (bounded) for drains in flight to finish their current item. */

  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping = true;
    this.#wakeups.close();
    const all = Promise.allSettled([...this.#running.values()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
  }

  /** Resolves when no drain is running in this process (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  async #drain(target: WakeTarget, held?: HeldLease): Promise<void> {
    const { dir, userId } = target;
    if (!held) {
      // Most queued wake-ups find the mailbox already drained: one read, no writes.
      if ((await this.#kv.get(keys.pending(dir, userId))).versionstamp === null) return;
    }
    const acquired = held ?? await this.#acquireLease(target);
    if (!acquired) return;
    let lease: Deno.KvEntryMaybe<Lease> | null = acquired.entry;
    let firstAttempt: boolean | undefined;
    try {
      while (!this.#stopping) {
        // The pending marker is read before the mailbox is listed: an append after this read
        // changes the marker (and the closing commit fails); an append before it is listed.
        const known = acquired.known;
        acquired.known = undefined;
        const [pending, retry] = known
          ? [known.pending, { versionstamp: null }]
          : await this.#kv.getMany([keys.pending(dir, userId), keys.retry(dir, userId)]);
        // The head item may have been tried before (it failed, or its drainer died): then its
        // side effect may exist already, and the handler must look before acting again.
        firstAttempt ??= known !== undefined ||
          (!acquired.takenOver && retry.versionstamp === null);
        const entries: Deno.KvEntry<MailboxEntry>[] = known?.entries ?? [];
        if (!known) {
          for await (
            const e of this.#kv.list<MailboxEntry>({ prefix: keys.mailbox(dir, userId) }, {
              limit: LIST_BATCH,
            })
          ) entries.push(e);
        }
        if (entries.length === 0) {
          if (await this.#clearPending(target, lease, pending)) {
            lease = null; // released with the pending marker
            return;
          }
          continue;
        }
        for (const [i, entry] of entries.entries()) {
          if (this.#stopping) return;
          lease = await this.#renewLeaseIfDue(lease);
          const last = i === entries.length - 1 && entries.length < LIST_BATCH;
          const outcome = await this.#process(
            target,
            entry,
            () => lease!,
            firstAttempt,
            last ? pending : undefined,
          );
          if (outcome === "retry-later") return;
          if (outcome === "finished") {
            lease = null; // released in the item's own commit
            return;
          }
          firstAttempt = true;
        }
      }
    } catch (error) {
      if (error instanceof LostLease) {
        this.#log.warn("mailbox lease lost; another instance continues", { dir, userId });
        lease = null;
        return;
      }
      throw error;
    } finally {
      if (lease) await this.#kv.atomic().check(lease).delete(keys.lease(dir, userId)).commit();
    }
  }

  /**
   * Runs one item. "finished": it was the last item and its commit also
   * released the mailbox; "next": go on; "retry-later": stop here.
   */
  async #process(
    target: WakeTarget,
    entry: Deno.KvEntry<MailboxEntry>,
    lease: () => Deno.KvEntryMaybe<Lease>,
    firstAttempt: boolean,
    /** Given for the last item listed: the pending marker as read before the listing. */
    pendingBeforeListing: Deno.KvEntryMaybe<unknown> | undefined,
  ): Promise<"finished" | "next" | "retry-later"> {
    const { dir, userId } = target;
    const seq = entry.key[3] as bigint;
    const checkpoint = async (progress: Record<string, unknown>) => {
      const res = await this.#kv.atomic().check(lease())
        .set(entry.key, { ...entry.value, progress }).commit();
      if (!res.ok) throw new LostLease();
    };
    let records: void | CompletionRecord[];
    try {
      records = await this.#handlers[dir](userId, entry.value, checkpoint, { firstAttempt });
    } catch (error) {
      if (error instanceof LostLease) throw error;
      if (isRetryable(error)) {
        this.#observer.retrying?.(dir, error);
        await this.#scheduleRetry(target, error, lease());
        return "retry-later";
      }
      const reason = describeError(error);
      this.#observer.dead?.(dir, reason);
      this.#log.error("item failed for good; kept as dead letter", { dir, userId, reason });
      const dead: DeadItem = { item: entry.value.item, reason, failedAt: this.#now() };
      const res = await this.#kv.atomic().check(lease())
        .delete(entry.key).set(keys.deadItem(dir, userId, seq), dead)
        .delete(keys.retry(dir, userId)).commit();
      if (!res.ok) throw new LostLease();
      return "next";
    }
    const done = () => {
      const op = this.#kv.atomic().check(lease()).delete(entry.key).delete(keys.retry(dir, userId));
      for (const r of records ?? []) {
        op.set(r.key, r.value, r.expireIn ? { expireIn: r.expireIn } : {});
      }
      return op;
    };
    if (pendingBeforeListing) {
      // The usual case, the last item: delete it, the pending marker and the lease in one
      // commit, unless an append touched the marker since the listing (then carry on).
      const finish = done().check(pendingBeforeListing).delete(keys.pending(dir, userId))
        .delete(keys.lease(dir, userId));
      if ((await finish.commit()).ok) {
        this.#observer.delivered?.(dir, entry.value);
        return "finished";
      }
    }
    if (!(await done().commit()).ok) throw new LostLease();
    this.#observer.delivered?.(dir, entry.value);
    return "next";
  }

  async #scheduleRetry(target: WakeTarget, error: unknown, lease: Deno.KvEntryMaybe<Lease>) {
    const { dir, userId } = target;
    const previous = (await this.#kv.get<RetryState>(keys.retry(dir, userId))).value;
    const attempts = (previous?.attempts ?? 0) + 1;
    const delay = retryDelayMs(attempts);
    const now = this.#now();
    const state: RetryState = {
      attempts,
      nextAt: now + delay,
      lastError: describeError(error),
      since: previous?.since ?? now,
    };
    const res = await this.#kv.atomic().check(lease).set(keys.retry(dir, userId), state).commit();
    if (!res.ok) throw new LostLease();
    await this.#wakeups.later(target, delay);
    this.#log.warn("delivery failed; will retry", {
      dir,
      userId,
      attempts,
      retryInMs: delay,
      error: state.lastError,
    });
  }

  /**
   * The mailbox is empty: deletes the pending marker and releases the lease,
   * unless an append touched the marker since (then returns false: list again).
   */
  async #clearPending(
    target: WakeTarget,
    lease: Deno.KvEntryMaybe<Lease>,
    pending: Deno.KvEntryMaybe<unknown>,
  ): Promise<boolean> {
    const pendingKey = keys.pending(target.dir, target.userId);
    const res = await this.#kv.atomic().check(lease).check(pending).delete(pendingKey)
      .delete(keys.lease(target.dir, target.userId)).commit();
    if (res.ok) return true;
    const current = await this.#kv.get<Lease>(keys.lease(target.dir, target.userId));
    if (current.versionstamp !== lease.versionstamp) throw new LostLease();
    return false; // a new item arrived meanwhile: list again
  }

  async #acquireLease(target: WakeTarget): Promise<HeldLease | null> {
    const key = keys.lease(target.dir, target.userId);
    const current = await this.#kv.get<Lease>(key);
    const now = this.#now();
    if (current.value && current.value.expiresAt > now) {
      // Another instance is draining. Look again when its lease runs out, in case it died.
      await this.#wakeups.later(target, current.value.expiresAt - now + 100);
      return null;
    }
    const lease: Lease = { owner: this.#instanceId, expiresAt: now + this.#leaseMs };
    const res = await this.#kv.atomic().check(current).set(key, lease).commit();
    if (!res.ok) return null;
    return {
      entry: { key, value: lease, versionstamp: res.versionstamp },
      takenOver: current.value !== null && current.value.owner !== this.#instanceId,
    };
  }

  async #renewLeaseIfDue(lease: Deno.KvEntryMaybe<Lease>): Promise<Deno.KvEntryMaybe<Lease>> {
    const now = this.#now();
    if (lease.value && lease.value.expiresAt - now > this.#leaseMs / 2) return lease;
    const renewed: Lease = { owner: this.#instanceId, expiresAt: now + this.#leaseMs };
    const res = await this.#kv.atomic().check(lease).set(lease.key, renewed).commit();
    if (!res.ok) throw new LostLease();
    return { key: lease.key, value: renewed, versionstamp: res.versionstamp };
  }

  /** Counts for /healthz: items waiting, the oldest one's age, mailboxes in retry, dead letters. */
  async stats(): Promise<MailboxStats> {
    const now = this.#now();
    let depth = 0;
    let oldest = now;
    for await (const e of this.#kv.list<MailboxEntry>({ prefix: keys.allMailboxes() })) {
      depth++;
      oldest = Math.min(oldest, e.value.appendedAt);
    }
    let retrying = 0;
    for await (const _ of this.#kv.list({ prefix: keys.allRetries() })) retrying++;
    let dead = 0;
    for await (const _ of this.#kv.list({ prefix: keys.allDead() })) dead++;
    return { depth, oldestAgeMs: depth ? now - oldest : 0, retrying, dead };
  }
}

export interface MailboxStats {
  depth: number;
  oldestAgeMs: number;
  retrying: number;
  dead: number;
}
