/**
 * The lease a drain holds on one mailbox, and the only way a drain writes.
 *
 * Contract:
 * - While the drain runs, the lease is renewed in the background (every third
 *   of its length), so a slow handler is never taken over while its process is
 *   alive; only a process that stalls or dies loses it.
 * - Every write is a commit checked against the lease's versionstamp and
 *   serialized with the renewals (a renewal changes the versionstamp, so a
 *   write racing it would look stale). A drain that lost its lease (or gave it
 *   up) can write nothing, and `signal` aborts so that its handler stops
 *   before its next side effect.
 * - A locked database (another process writing) is retried briefly, not
 *   treated as a failure of the item.
 */
import { withStorageRetries } from "./storage_retries.ts";
import { type GroupCommit, recordedWrite } from "./group_commit.ts";

export interface Lease {
  owner: string;
  expiresAt: number;
}

export class LostLease extends Error {
  constructor() {
    super("mailbox lease lost to another instance");
  }
}

export interface DrainLeaseOptions {
  owner: string;
  leaseMs: number;
  now: () => number;
  renewEveryMs: number;
  /** Writes of different drains arriving together are committed together. */
  commits: GroupCommit;
}

/** Builds a commit on `op`, which already checks the lease; `leaseKey` to delete it. */
export type LeaseFencedCommit = (
  op: Deno.AtomicOperation,
  leaseKey: Deno.KvKey,
) => Deno.AtomicOperation;

export class DrainLease {
  readonly #kv: Deno.Kv;
  readonly #owner: string;
  #entry: Deno.KvEntryMaybe<Lease>;
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #commits: GroupCommit;
  readonly #lost = new AbortController();
  #chain: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  #released = false;
  #abandoned = false;

  constructor(kv: Deno.Kv, entry: Deno.KvEntryMaybe<Lease>, options: DrainLeaseOptions) {
    this.#kv = kv;
    this.#owner = options.owner;
    this.#entry = entry;
    this.#leaseMs = options.leaseMs;
    this.#now = options.now;
    this.#commits = options.commits;
    this.#timer = setInterval(
      () => void this.#renew().catch(() => this.#giveUpIfExpired()),
      options.renewEveryMs,
    );
  }

  /**
   * Aborted once the lease is known to be lost, or given up (`abandon`): the
   * handler must not start another side effect.
   */
  get signal(): AbortSignal {
    return this.#lost.signal;
  }

  /** No write can go through any more: the lease was released, given up or taken over. */
  get ended(): boolean {
    return this.#released || this.#abandoned || this.#lost.signal.aborted;
  }

  /**
   * A write whose only check is the lease: it goes through, or throws
   * LostLease (and nothing of it is written).
   */
  async write(build: LeaseFencedCommit): Promise<void> {
    if (!await this.tryWrite(build)) throw new LostLease();
  }

  /**
   * A write with checks of its own besides the lease's. True when it went
   * through; false when one of its own checks failed while the lease is still
   * held; throws LostLease when the lease is gone. `releases`: the commit
   * deletes the lease (the drain's last write).
   */
  tryWrite(build: LeaseFencedCommit, options: { releases?: boolean } = {}): Promise<boolean> {
    return this.#serialized(async () => {
      if (this.ended) throw new LostLease();
      const entry = this.#entry;
      const res = await this.#commits.commit(
        recordedWrite((op) => build(op.check(entry), entry.key)),
      );
      if (res.ok) {
        if (options.releases) this.#released = true;
        return true;
      }
      const current = await withStorageRetries(() => this.#kv.get(entry.key));
      if (current.versionstamp !== entry.versionstamp) {
        this.#lost.abort(new LostLease());
        throw new LostLease();
      }
      return false;
    });
  }

  /** Stops renewing and, unless it already ended, deletes the lease. */
  async release(): Promise<void> {
    this.#stopRenewing();
    if (this.ended) return;
    await this.tryWrite((op, key) => op.delete(key), { releases: true }).catch(() => {});
  }

  /**
   * Gives the lease up without deleting it: no more renewals or writes, and
   * the handler is told to stop. The record runs out, and whoever drains next
   * then knows the drain ended abnormally and the head item may have been tried.
   */
  abandon(): void {
    this.#abandoned = true;
    this.#stopRenewing();
    if (!this.#lost.signal.aborted) this.#lost.abort(new LostLease());
  }

  #stopRenewing(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * A renewal failed (KV unreachable, say). Once the lease's time is up
   * without a confirmed renewal, another instance may take the mailbox: from
   * then on this drain must act as if it lost it.
   */
  #giveUpIfExpired() {
    const expiresAt = this.#entry.value?.expiresAt ?? 0;
    if (this.#now() >= expiresAt && !this.ended) this.#lost.abort(new LostLease());
  }

  #renew(): Promise<void> {
    return this.#serialized(async () => {
      if (this.ended || this.#timer === undefined) return;
      const renewed: Lease = { owner: this.#owner, expiresAt: this.#now() + this.#leaseMs };
      const key = this.#entry.key;
      const res = await withStorageRetries(() =>
        this.#kv.atomic().check(this.#entry).set(key, renewed).commit()
      );
      if (res.ok) this.#entry = { key, value: renewed, versionstamp: res.versionstamp };
      else this.#lost.abort(new LostLease());
    });
  }

  #serialized<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(step, step);
    this.#chain = run.catch(() => {});
    return run;
  }
}
