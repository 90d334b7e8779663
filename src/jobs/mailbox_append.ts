/**
 * An append's commit (see the contract in mailbox.ts): its items, the
 * mailbox's pending marker and its dedupe markers in one atomic write. When
 * the mailbox's lease is free, the same commit takes it, so the drain starts
 * without another write; when the mailbox was also empty, the drain starts
 * from what was written, without reading it back.
 */
import type { MailboxAppend } from "../bridge/ports.ts";
import { keys } from "../store/keys.ts";
import type { SeenMarkers } from "../store/seen.ts";
import type { Lease } from "./drain_lease.ts";
import { withStorageRetries } from "./storage_retries.ts";
import { type GroupCommit, recordedWrite } from "./group_commit.ts";
import type { TakenLease } from "./mailbox_drain.ts";
import { type MailboxEntry, type RetryState, retryWaits } from "./mailbox_records.ts";
import type { WakeTarget } from "./wakeups.ts";

export interface AppendDeps {
  kv: Deno.Kv;
  now: () => number;
  /** The owner written into a lease this process takes. */
  instanceId: string;
  leaseMs: number;
  seenMarkers: Pick<SeenMarkers, "guard">;
  /** Appends of different mailboxes arriving together are committed together. */
  commits: GroupCommit;
}

/** A mailbox whose lease is free, as an append read it. */
export interface IdleMailbox {
  lease: Deno.KvEntryMaybe<Lease>;
  pending: Deno.KvEntryMaybe<unknown>;
  retry: Deno.KvEntryMaybe<RetryState>;
}

/**
 * The mailbox's lease, marker and retry record: `idle` when its lease is free
 * (or ran out) and no retry waits, so the append may take the lease;
 * `retryWaits` when its head item waits for a retry (its wake-up is scheduled).
 */
export async function readMailboxState(
  deps: AppendDeps,
  { dir, userId }: WakeTarget,
): Promise<{ idle?: IdleMailbox; retryWaits: boolean }> {
  const [lease, retry, pending] = await withStorageRetries(() =>
    deps.kv.getMany<[Lease, RetryState, unknown]>([
      keys.lease(dir, userId),
      keys.retry(dir, userId),
      keys.pending(dir, userId),
    ])
  );
  const leaseFree = !lease.value || lease.value.expiresAt <= deps.now();
  const waits = retryWaits(retry.value, deps.now());
  return { ...(leaseFree && !waits ? { idle: { lease, retry, pending } } : {}), retryWaits: waits };
}

/**
 * Appends and takes the free lease in one commit. Undefined when that commit
 * fails: a dedupe key was seen, or another drain took the lease first.
 */
export async function appendTakingLease(
  deps: AppendDeps,
  request: MailboxAppend,
  idle: IdleMailbox,
): Promise<TakenLease | undefined> {
  const { add, now, written, marker } = appendOperation(deps, request);
  const lease: Lease = { owner: deps.instanceId, expiresAt: now + deps.leaseMs };
  // Empty and at rest (no marker, no retry waiting): the drain can start from what is written.
  const wasEmpty = idle.pending.versionstamp === null && idle.retry.versionstamp === null;
  const result = await deps.commits.commit(recordedWrite((op) => {
    add(op);
    op.check(idle.lease).set(idle.lease.key, lease);
    if (wasEmpty) op.check(idle.pending).check(idle.retry);
  }));
  if (!result.ok) return undefined;
  const { versionstamp } = result;
  return {
    entry: { key: idle.lease.key, value: lease, versionstamp },
    headMayHaveBeenTried: idle.lease.value !== null,
    ...(wasEmpty
      ? {
        appended: {
          pending: { ...marker, versionstamp },
          headFailedBefore: false,
          entries: written.map((w) => ({ ...w, versionstamp })),
        },
      }
      : {}),
  };
}

/** Appends without touching the lease; false when a dedupe key was seen. */
export async function appendOnly(deps: AppendDeps, request: MailboxAppend): Promise<boolean> {
  const result = await deps.commits.commit(recordedWrite(appendOperation(deps, request).add));
  return result.ok;
}

/** The append's writes: its dedupe markers, its items and the pending marker. */
function appendOperation(deps: AppendDeps, request: MailboxAppend) {
  const { dir, userId } = request;
  const now = deps.now();
  const dedupe = request.dedupe === undefined ? [] : [request.dedupe].flat();
  const written = request.items.map(({ seq, item }) => {
    const value: MailboxEntry = { item, progress: {}, appendedAt: now };
    return { key: keys.mailboxItem(dir, userId, [seq]), value };
  });
  const marker = { key: keys.pending(dir, userId), value: { touchedAt: now } };
  const add = (op: Deno.AtomicOperation) => {
    for (const { kind, id } of dedupe) deps.seenMarkers.guard(op, kind, id);
    for (const { key, value } of written) op.set(key, value);
    op.set(marker.key, marker.value);
  };
  return { add, now, written, marker };
}
