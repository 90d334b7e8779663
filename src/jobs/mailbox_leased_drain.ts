/**
 * One drain as the mailbox scheduler (mailbox.ts) starts it: whether the
 * mailbox is due, its lease (taken here unless an append took it in its
 * commit), its items run under that lease (mailbox_drain.ts), and what a
 * lost lease or a failed drain leaves behind.
 *
 * Contracts:
 * - A wake-up finding the mailbox empty, or its head item waiting for a retry
 *   later than now, costs one read and no write (unless `early`: the service
 *   the item waits on is known to be back).
 * - A lease held by another drain is left alone; the mailbox is woken again
 *   when that lease runs out, in case its holder died. A lease record found
 *   (not deleted by a normal end) means the head item may have been tried.
 * - A lost lease ends the drain with nothing more written. Any other failure
 *   leaves the lease to run out (so the next drain treats the head item as
 *   possibly tried and looks first) and wakes the mailbox after it.
 * - While it runs, the drain's lease is in `leasesHeld` (stop abandons those
 *   it cannot wait for).
 */
import { describeError } from "../bridge/errors.ts";
import { keys } from "../store/keys.ts";
import { DrainLease, type Lease, LostLease } from "./drain_lease.ts";
import type { GroupCommit } from "./group_commit.ts";
import { type DrainDeps, drainItems, type TakenLease } from "./mailbox_drain.ts";
import { type RetryState, retryWaits } from "./mailbox_records.ts";
import { withStorageRetries } from "./storage_retries.ts";
import type { WakeTarget } from "./wakeups.ts";

export interface LeasedDrainDeps extends DrainDeps {
  /** The owner written into a lease this process takes. */
  instanceId: string;
  leaseMs: number;
  /** How often a running drain renews its lease. */
  leaseRenewEveryMs: number;
  /** Appends and drain writes of different mailboxes, committed together under load. */
  commits: GroupCommit;
  /** Leases held by the drains running here (given up when `stop` cannot wait for them). */
  leasesHeld: Set<DrainLease>;
}

/** One drain: takes the lease (unless an append did), runs the items, ends the lease. */
export async function drainUnderLease(
  deps: LeasedDrainDeps,
  target: WakeTarget,
  taken: TakenLease | undefined,
  early: boolean,
): Promise<void> {
  const { dir, userId } = target;
  let start = taken;
  if (!start) {
    // Most queued wake-ups find the mailbox already drained: one read, no writes.
    const [pending, retry, lease] = await withStorageRetries(() =>
      deps.kv.getMany<[unknown, RetryState, Lease]>([
        keys.pending(dir, userId),
        keys.retry(dir, userId),
        keys.lease(dir, userId),
      ])
    );
    if (pending.versionstamp === null) return;
    // A wake-up delivered twice is not a retry; an early one (the service is back) is.
    if (!early && retryWaits(retry.value, deps.now())) return;
    const took = await takeLease(deps, target, lease);
    if (!took) return;
    start = took;
  }
  const lease = new DrainLease(deps.kv, start.entry, {
    owner: deps.instanceId,
    leaseMs: deps.leaseMs,
    now: deps.now,
    renewEveryMs: deps.leaseRenewEveryMs,
    commits: deps.commits,
  });
  deps.leasesHeld.add(lease);
  try {
    await drainItems(deps, target, lease, start);
  } catch (error) {
    if (error instanceof LostLease) {
      if (deps.stopping()) {
        deps.log.warn("mailbox stopped during an item; the next drain looks first", {
          dir,
          userId,
        });
      } else deps.log.warn("mailbox lease lost; another instance continues", { dir, userId });
      return;
    }
    // The database failed beyond its retries, or a bug in the drain. The lease is left to run
    // out, so whoever drains next treats the head item as possibly tried and looks first.
    lease.abandon();
    deps.log.error("mailbox drain failed; it is retried when its lease runs out", {
      dir,
      userId,
      error: describeError(error),
    });
    deps.wakeAfter(target, deps.leaseMs + 100);
  } finally {
    deps.leasesHeld.delete(lease);
    await lease.release();
  }
}

/** Takes the mailbox's lease if it is free (or ran out); null when another drain holds it. */
async function takeLease(
  deps: LeasedDrainDeps,
  target: WakeTarget,
  current: Deno.KvEntryMaybe<Lease>,
): Promise<TakenLease | null> {
  const key = keys.lease(target.dir, target.userId);
  const now = deps.now();
  if (current.value && current.value.expiresAt > now) {
    // Another drain holds it. Look again when its lease runs out, in case it died.
    deps.wakeAfter(target, current.value.expiresAt - now + 100);
    return null;
  }
  const lease: Lease = { owner: deps.instanceId, expiresAt: now + deps.leaseMs };
  const res = await withStorageRetries(() =>
    deps.kv.atomic().check(current).set(key, lease).commit()
  );
  if (!res.ok) return null;
  return {
    entry: { key, value: lease, versionstamp: res.versionstamp },
    headMayHaveBeenTried: current.value !== null,
  };
}
