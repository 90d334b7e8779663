/**
 * What a mailbox stores in KV and what it promises its handlers: the shapes
 * shared by the mailbox (mailbox.ts), its drain (mailbox_drain.ts), its
 * failure handling (mailbox_failures.ts) and the dead-letter commands.
 */
import type { KvRecord } from "../store/records.ts";
import type { Failure } from "../bridge/errors.ts";
import { mailboxSeqAt } from "../bridge/intake.ts";
import {
  type Direction,
  followUpKey,
  keys,
  type MailboxOwner,
  otherDirection,
  ownerOfKey,
} from "../store/keys.ts";

/** An item waiting in a mailbox (`mailbox/<dir>/<user>/<position>`). */
export interface MailboxEntry<T = unknown> {
  item: T;
  /** What the handler saved with `checkpoint` before a side effect; `{}` at first. */
  progress: Record<string, unknown>;
  appendedAt: number;
  /** Put back from the dead letters: it was tried before, its side effect may exist. */
  triedBefore?: true;
}

/** A wake-up this close to a retry's time runs it (timers and queues fire a little early). */
const RETRY_SLACK_MS = 25;

/** The head item waits for a retry later than `now` (its own wake-up is scheduled). */
export function retryWaits(retry: RetryState | null, now: number): boolean {
  return retry !== null && retry.nextAt > now + RETRY_SLACK_MS;
}

/** Written after a failed attempt (`retry/<dir>/<user>`); deleted with the item. */
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
  /** Not a failure: the head item waits for the user (a topic pick) until `nextAt`. */
  waitingForUser?: true;
}

/** An item that failed for good (`dead/<dir>/<user>/<position>`). */
export interface DeadItem {
  item: unknown;
  reason: string;
  failedAt: number;
  appendedAt?: number;
  /** The progress it had saved: a retry resumes there (parts already sent are not sent again). */
  progress?: Record<string, unknown>;
  /** KV deletes it with `expireIn`, lazily (up to a minute late): readers skip it from here on. */
  expiresAt?: number;
}

/** True while a dead letter is kept (its TTL has not run out). */
export function isKept(dead: DeadItem, now: number): boolean {
  return dead.expiresAt === undefined || dead.expiresAt > now;
}

/** What the mailbox knows about an attempt. */
export interface AttemptContext {
  /**
   * False when the item may have been attempted before (it failed, or the
   * drain that held it ended abnormally): its side effect may already exist,
   * so the handler looks before acting again.
   */
  firstAttempt: boolean;
  /** Aborted when the drain lost (or gave up) its lease: start no further side effect. */
  signal: AbortSignal;
}

/**
 * Written in the same commit that removes a finished item: a record, or a
 * follow-up item for the user's other mailbox.
 */
export type CompletionRecord = KvRecord | { followUp: unknown };

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

/**
 * Adds `items`, in order, to the user's other mailbox (follow-ups are for the
 * other service: a "delivered" mark for Chatwoot after a reply, a "not
 * delivered" notice for the user after a DM failed) and marks it pending.
 * Returns the mailbox to wake once the commit went through.
 */
export function setFollowUps(
  op: Deno.AtomicOperation,
  itemKey: Deno.KvKey,
  items: unknown[],
  now: number,
): MailboxOwner | undefined {
  if (items.length === 0) return undefined;
  const { dir, userId } = ownerOfKey(itemKey);
  const other = otherDirection(dir);
  const seq = mailboxSeqAt(other, now);
  items.forEach((item, n) => {
    const entry: MailboxEntry = { item, progress: {}, appendedAt: now };
    op.set(followUpKey(itemKey, seq, n), entry);
  });
  op.set(keys.pending(other, userId), { touchedAt: now });
  return { dir: other, userId };
}
