/**
 * What a drain does when an item's handler fails (see the contract in mailbox.ts).
 *
 * - The failure is classified by cause (errors.ts). An outage of a service (or
 *   of its credentials) is retried with growing delay and no attempt limit; the
 *   retry record names the service, so that its recovery wakes exactly the
 *   mailboxes waiting on it.
 * - A failure of the item itself is retried `maxItemFailures` times, then the
 *   item becomes a dead letter, its sender is told (follow-up items written
 *   into the user's other mailbox in the same commit) and the items behind it
 *   flow. A server error is blamed on the item only while its service answers
 *   its check and other deliveries to it get through: else it waits like in an
 *   outage.
 * - Every write goes through the drain's lease.
 */
import {
  classifyFailure,
  describeError,
  type Failure,
  type OutageService,
  WaitForUser,
} from "../bridge/errors.ts";
import type { Logger } from "../bridge/ports.ts";
import { deadLetterKeyOf, type Direction, keys } from "../store/keys.ts";
import type { DrainLease } from "./drain_lease.ts";
import { withStorageRetries } from "./storage_retries.ts";
import {
  type DeadItem,
  type MailboxEntry,
  type MailboxObserver,
  type RetryState,
  setFollowUps,
} from "./mailbox_records.ts";
import type { WakeTarget } from "./wakeups.ts";

export interface FailureDeps {
  kv: Deno.Kv;
  now: () => number;
  log: Logger;
  observer: MailboxObserver;
  /** Something moved: the mailbox counts must be taken again. */
  countsChanged: () => void;
  /** Drains a mailbox now (the other mailbox, after follow-ups were written to it). */
  wake: (target: WakeTarget) => void;
  /** Wakes the mailbox again after `delayMs`. */
  wakeAfter: (target: WakeTarget, delayMs: number) => void;
  /** Delay before retry number `attempts`. */
  retryDelayMs: (attempts: number) => number;
  maxItemFailures: number;
  deadLetterTtlMs: number;
  /** The items that tell an item's sender it was not delivered (none for such an item itself). */
  tellSender: (dir: Direction, userId: string, item: unknown, reason: string) => unknown[];
  /** Whether the service answers its health check right now (absent: assume it does). */
  serviceAnswers?: (service: OutageService) => Promise<boolean>;
  /** Whether another delivery to the service succeeded since `sinceMs` (absent: assume so). */
  deliveredSince?: (service: OutageService, sinceMs: number) => boolean;
}

/**
 * Attempts after which a server error of an item whose service answers its
 * check is the item's even when no other delivery got through (about two
 * hours at the default backoff: 1 s doubling to 10 minutes).
 */
const QUIET_BLAME_AFTER = 20;

/** A rate limit without Retry-After is short-lived: retried at least this often. */
const RATE_LIMIT_WAIT_MS = 2_000;

/** "retry-later": a retry record was written and a wake-up scheduled; the drain ends. */
export type FailureOutcome = "retry-later" | "dead-lettered";

/** An item's handler failed with `error`: schedules its retry, or makes it a dead letter. */
export async function handleItemFailure(
  deps: FailureDeps,
  target: WakeTarget,
  entry: Deno.KvEntry<MailboxEntry>,
  lease: DrainLease,
  error: unknown,
): Promise<FailureOutcome> {
  const retryKey = keys.retry(target.dir, target.userId);
  const stored = (await withStorageRetries(() => deps.kv.get<RetryState>(retryKey))).value;
  if (error instanceof WaitForUser) return await holdForUser(deps, target, lease, stored, error);
  // Waiting for the user was no failure: a failure after it starts its own count.
  const previous = stored?.waitingForUser ? null : stored;
  const failingSince = previous?.since ?? deps.now();
  const failure = await blameItemIfOthersGetThrough(
    deps,
    classifyFailure(error),
    failingSince,
    previous?.attempts ?? 0,
  );
  let itemFailures = previous?.itemFailures ?? 0;
  // A rate limit is waited out (its own delay), not shown as an outage nor woken by a probe.
  let waitingOn = failure.cause === "outage" && !failure.rateLimit ? failure.service : undefined;
  if (failure.cause === "item") {
    itemFailures++;
    if (itemFailures >= deps.maxItemFailures) {
      const service = failure.service;
      if (!service || !deps.serviceAnswers || await deps.serviceAnswers(service)) {
        await deadLetter(deps, target, entry, lease, failure.reason);
        return "dead-lettered";
      }
      // Its service does not answer: the failure is the service's. Wait for it, one attempt short.
      waitingOn = service;
      itemFailures = deps.maxItemFailures - 1;
    }
  }
  const attempts = (previous?.attempts ?? 0) + 1;
  const delay = failure.cause === "outage" && failure.rateLimit
    ? failure.rateLimit.retryAfterMs ?? Math.min(deps.retryDelayMs(attempts), RATE_LIMIT_WAIT_MS)
    : deps.retryDelayMs(waitingOn ? attempts : itemFailures);
  const now = deps.now();
  const state: RetryState = {
    attempts,
    nextAt: now + delay,
    lastError: failure.reason,
    since: failingSince,
    ...(waitingOn ? { waitingOn } : {}),
    ...(itemFailures ? { itemFailures } : {}),
  };
  await lease.write((op) => op.set(retryKey, state));
  deps.countsChanged();
  deps.observer.retrying?.(target.dir, failure);
  deps.wakeAfter(target, delay);
  deps.log.warn("delivery failed; will retry", {
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

/**
 * The head item waits for the user (WaitForUser): not a failure. Its mailbox
 * is held until the time it names (or until the user's answer wakes it
 * early), without counting an attempt, and nothing behind it overtakes it.
 */
async function holdForUser(
  deps: FailureDeps,
  target: WakeTarget,
  lease: DrainLease,
  previous: RetryState | null,
  wait: WaitForUser,
): Promise<FailureOutcome> {
  const now = deps.now();
  const state: RetryState = {
    attempts: previous?.attempts ?? 0,
    nextAt: wait.untilMs,
    lastError: wait.message,
    since: previous?.since ?? now,
    waitingForUser: true,
  };
  await lease.write((op) => op.set(keys.retry(target.dir, target.userId), state));
  deps.countsChanged();
  deps.wakeAfter(target, Math.max(0, wait.untilMs - now));
  deps.log.info("mailbox waits for the user", {
    dir: target.dir,
    userId: target.userId,
    why: wait.message,
    waitMs: Math.max(0, wait.untilMs - now),
  });
  return "retry-later";
}

/**
 * A server error, no answer or a refusal that may be this item's alone is the
 * item's when the service answers its health check and other deliveries to it
 * got through since this item started failing: it then keeps its own backoff
 * and bounded attempts. Otherwise (writes failing while reads work, say) it is
 * the service's, and nothing is dead-lettered for it.
 */
async function blameItemIfOthersGetThrough(
  deps: FailureDeps,
  failure: Failure,
  failingSince: number,
  attemptsSoFar: number,
): Promise<Failure> {
  if (failure.cause !== "outage" || !failure.mayBeItem || failure.service === "storage") {
    return failure;
  }
  // On a quiet bridge nothing else may be delivered meanwhile (this user's next items wait behind
  // this one): past QUIET_BLAME_AFTER attempts the service's answering check is proof enough.
  const othersGotThrough = !deps.deliveredSince ||
    deps.deliveredSince(failure.service, failingSince) || attemptsSoFar >= QUIET_BLAME_AFTER;
  if (!othersGotThrough) return failure;
  if (!deps.serviceAnswers || !await deps.serviceAnswers(failure.service)) return failure;
  return { cause: "item", service: failure.service, reason: failure.reason };
}

/** Moves the item to its dead letter and writes the sender's notice behind it, in one commit. */
async function deadLetter(
  deps: FailureDeps,
  { dir, userId }: WakeTarget,
  entry: Deno.KvEntry<MailboxEntry>,
  lease: DrainLease,
  reason: string,
): Promise<void> {
  const failedAt = deps.now();
  const dead: DeadItem = {
    item: entry.value.item,
    reason,
    failedAt,
    appendedAt: entry.value.appendedAt,
    progress: entry.value.progress,
    expiresAt: failedAt + deps.deadLetterTtlMs,
  };
  let tell: unknown[] = [];
  try {
    tell = deps.tellSender(dir, userId, entry.value.item, reason);
  } catch (error) {
    // A malformed item must not block its mailbox: it becomes a dead letter all the same.
    deps.log.error("could not prepare the sender's 'not delivered' notice", {
      dir,
      userId,
      error: describeError(error),
    });
  }
  let other: WakeTarget | undefined;
  await lease.write((op) => {
    op.delete(entry.key).delete(keys.retry(dir, userId))
      .set(deadLetterKeyOf(entry.key), dead, { expireIn: deps.deadLetterTtlMs });
    other = setFollowUps(op, entry.key, tell, deps.now());
    return op;
  });
  if (other) deps.wake(other);
  deps.countsChanged();
  deps.observer.dead?.(dir, reason);
  deps.log.error("item failed for good; kept as dead letter", {
    dir,
    userId,
    reason,
    senderTold: tell.length > 0,
  });
}
