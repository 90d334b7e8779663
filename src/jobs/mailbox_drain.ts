/**
 * One drain of one mailbox, under its lease (see the contract in mailbox.ts).
 *
 * - Items run one at a time in key order. An item is deleted only by the
 *   commit that records its outcome: its completion records and follow-ups
 *   (written into the user's other mailbox), or its dead letter.
 * - The drain ends by deleting the pending marker and the lease in one commit,
 *   checked against the marker as read before the last listing. Every append
 *   rewrites the marker, so an item appended since makes that commit fail and
 *   the drain lists again: no item is left behind without a drain.
 * - Only the head item can have been tried before: by a drain that ended
 *   abnormally, or by an attempt that failed (its retry record is there).
 */
import { type Direction, keys, type MailboxOwner } from "../store/keys.ts";
import { type DrainLease, type Lease, LostLease } from "./drain_lease.ts";
import { withStorageRetries } from "./storage_retries.ts";
import { type FailureDeps, handleItemFailure } from "./mailbox_failures.ts";
import {
  type CompletionRecord,
  type ItemHandler,
  type MailboxEntry,
  setFollowUps,
} from "./mailbox_records.ts";
import type { WakeTarget } from "./wakeups.ts";

/** Items listed at once; a drain lists again after them. */
const LIST_BATCH = 100;

export interface DrainDeps extends FailureDeps {
  handlers: Record<Direction, ItemHandler>;
  /** True once the mailbox stops: the drain starts no further item. */
  stopping: () => boolean;
}

/** The mailbox as a drain sees it before running its items. */
export interface MailboxSnapshot {
  /** The pending marker, read before the items were listed. */
  pending: Deno.KvEntryMaybe<unknown>;
  /** A retry record was there: the head item failed before. */
  headFailedBefore: boolean;
  /** Up to LIST_BATCH items, in key (delivery) order. */
  entries: Deno.KvEntry<MailboxEntry>[];
}

export interface DrainStart {
  /** The drain before this one ended abnormally: its head item may have been tried. */
  headMayHaveBeenTried: boolean;
  /** The mailbox as the append that started this drain wrote it (no need to read it again). */
  appended?: MailboxSnapshot;
}

/** A lease this process took on a mailbox, and what it knew about the mailbox then. */
export interface TakenLease extends DrainStart {
  entry: Deno.KvEntry<Lease>;
}

/**
 * What a drain does after an item:
 * - "next": run the next item listed;
 * - "drained": the item's commit also ended the drain (marker and lease deleted);
 * - "retry-later": the item failed and waits for its retry; the drain ends.
 */
type ItemOutcome = "next" | "drained" | "retry-later";

/**
 * Runs the mailbox's items until it is empty, an item must wait, or the
 * mailbox stops. Throws LostLease when the lease was lost (nothing more was
 * written); the caller releases the lease unless the drain ended it.
 */
export async function drainItems(
  deps: DrainDeps,
  target: WakeTarget,
  lease: DrainLease,
  start: DrainStart,
): Promise<void> {
  let headMayHaveBeenTried = start.headMayHaveBeenTried;
  let appended = start.appended;
  while (!deps.stopping()) {
    const { pending, headFailedBefore, entries } = appended ?? await readMailbox(deps.kv, target);
    appended = undefined;
    if (entries.length === 0) {
      const ended = await lease.tryWrite(
        (op, leaseKey) => endDrain(op, target, leaseKey, pending),
        { releases: true },
      );
      if (ended) return;
      continue; // an append touched the marker since the listing: list again
    }
    for (const [i, entry] of entries.entries()) {
      if (deps.stopping()) return;
      const mayHaveBeenTried = i === 0 && (headMayHaveBeenTried || headFailedBefore);
      headMayHaveBeenTried = false;
      const lastListed = i === entries.length - 1 && entries.length < LIST_BATCH;
      const outcome = await runItem(deps, target, entry, lease, {
        firstAttempt: !mayHaveBeenTried && !entry.value.triedBefore,
        endDrainIfUnchanged: lastListed ? pending : undefined,
      });
      if (outcome === "drained" || outcome === "retry-later") return;
    }
  }
}

async function readMailbox(kv: Deno.Kv, { dir, userId }: WakeTarget): Promise<MailboxSnapshot> {
  // The marker is read before the items are listed: an append after this read rewrites the
  // marker (so the drain's closing commit fails); an append before it is in the listing.
  const [pending, retry] = await withStorageRetries(() =>
    kv.getMany([keys.pending(dir, userId), keys.retry(dir, userId)])
  );
  const entries = await withStorageRetries(async () => {
    const listed: Deno.KvEntry<MailboxEntry>[] = [];
    const prefix = keys.mailbox(dir, userId);
    for await (const e of kv.list<MailboxEntry>({ prefix }, { limit: LIST_BATCH })) listed.push(e);
    return listed;
  });
  return { pending, headFailedBefore: retry.versionstamp !== null, entries };
}

/** Adds the drain's end to `op`: marker and lease deleted, if the marker is still as read. */
function endDrain(
  op: Deno.AtomicOperation,
  { dir, userId }: WakeTarget,
  leaseKey: Deno.KvKey,
  pendingAsRead: Deno.KvEntryMaybe<unknown>,
): Deno.AtomicOperation {
  return op.check(pendingAsRead).delete(keys.pending(dir, userId)).delete(leaseKey);
}

/** Runs one item's handler and writes what follows from its outcome. */
async function runItem(
  deps: DrainDeps,
  target: WakeTarget,
  entry: Deno.KvEntry<MailboxEntry>,
  lease: DrainLease,
  attempt: {
    firstAttempt: boolean;
    /** For the last item listed: the pending marker as read before the listing. */
    endDrainIfUnchanged?: Deno.KvEntryMaybe<unknown>;
  },
): Promise<ItemOutcome> {
  const checkpoint = (progress: Record<string, unknown>) =>
    lease.write((op) => op.set(entry.key, { ...entry.value, progress }));
  let records: CompletionRecord[];
  try {
    lease.signal.throwIfAborted();
    records = await deps.handlers[target.dir](target.userId, entry.value, checkpoint, {
      firstAttempt: attempt.firstAttempt,
      signal: lease.signal,
    }) ?? [];
  } catch (error) {
    if (error instanceof LostLease || lease.signal.aborted) throw new LostLease();
    const failed = await handleItemFailure(deps, target, entry, lease, error);
    return failed === "dead-lettered" ? "next" : "retry-later";
  }
  return await completeItem(deps, target, entry, lease, records, attempt.endDrainIfUnchanged);
}

/**
 * Deletes a finished item and its retry record, with its completion records
 * and follow-ups, in one commit. For the last item listed (the usual case,
 * one DM) the same commit ends the drain, unless an append touched the
 * marker since the listing: then the item is committed alone and the drain
 * lists again.
 */
async function completeItem(
  deps: DrainDeps,
  target: WakeTarget,
  entry: Deno.KvEntry<MailboxEntry>,
  lease: DrainLease,
  records: CompletionRecord[],
  endDrainIfUnchanged: Deno.KvEntryMaybe<unknown> | undefined,
): Promise<ItemOutcome> {
  const followUps = records.flatMap((r) => "followUp" in r ? [r.followUp] : []);
  let other: MailboxOwner | undefined;
  const removeItem = (op: Deno.AtomicOperation) => {
    op.delete(entry.key).delete(keys.retry(target.dir, target.userId));
    for (const r of records) {
      if ("key" in r) op.set(r.key, r.value, r.expireIn ? { expireIn: r.expireIn } : {});
    }
    other = setFollowUps(op, entry.key, followUps, deps.now());
    return op;
  };
  let outcome: ItemOutcome = "next";
  if (endDrainIfUnchanged) {
    const drained = await lease.tryWrite(
      (op, leaseKey) => endDrain(removeItem(op), target, leaseKey, endDrainIfUnchanged),
      { releases: true },
    );
    if (drained) outcome = "drained";
  }
  if (outcome !== "drained") await lease.write(removeItem);
  delivered(deps, target.dir, entry.value);
  if (other) deps.wake(other);
  return outcome;
}

function delivered(deps: DrainDeps, dir: Direction, entry: MailboxEntry) {
  deps.countsChanged();
  deps.observer.delivered?.(dir, entry);
}
