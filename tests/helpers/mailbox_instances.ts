/**
 * Instances of the real Mailboxes for the interleaving tests
 * (tests/mailbox_lease_interleavings_test.ts and
 * tests/mailbox_append_interleavings_test.ts): one mailbox of one user on a
 * `:memory:` KV, millisecond leases, wake-ups that never arrive, and handlers
 * that record every attempt, so that a test asserts on what KV and the
 * handlers saw, not on what the mailbox says about itself.
 */
import {
  type AttemptContext,
  type CompletionRecord,
  type MailboxEntry,
  Mailboxes,
  type MailboxOptions,
} from "../../src/jobs/mailbox.ts";
import type { Wakeups } from "../../src/jobs/wakeups.ts";
import { silentLogger } from "../../src/log.ts";
import { keys } from "../../src/store/keys.ts";

export const USER = "650000000000000777";
export const MAILBOX = { dir: "in", userId: USER } as const;
export const LEASE_MS = 50;

/**
 * Wake-ups that never arrive (as when a process dies with its timers): an item
 * is then found only by the drains' own bookkeeping, which is what is tested.
 */
export function lostWakeups(): Wakeups {
  return { mode: "inline", later: () => Promise.resolve(), listen() {}, close() {} };
}

export interface Attempt {
  by: string;
  item: unknown;
  firstAttempt: boolean;
  progress: Record<string, unknown>;
}

export type InHandler = (
  entry: MailboxEntry,
  checkpoint: (progress: Record<string, unknown>) => Promise<void>,
  context: AttemptContext,
) => Promise<void | CompletionRecord[]>;

/** One instance of the bridge's mailboxes, recording every attempt it makes. */
export function instance(
  kv: Deno.Kv,
  name: string,
  attempts: Attempt[],
  handler: InHandler = () => Promise.resolve(),
  extra: Partial<MailboxOptions> = {},
): Mailboxes {
  const mailboxes = new Mailboxes({
    kv,
    instanceId: name,
    wakeups: lostWakeups(),
    log: silentLogger,
    leaseMs: LEASE_MS,
    retryDelayMs: () => 5,
    handlers: {
      in: (_user, entry, checkpoint, context) => {
        attempts.push({
          by: name,
          item: entry.item,
          firstAttempt: context.firstAttempt,
          progress: entry.progress,
        });
        return handler(entry, checkpoint, context);
      },
      out: () => Promise.resolve(),
    },
    ...extra,
  });
  mailboxes.listen();
  return mailboxes;
}

export function append(mailboxes: Mailboxes, ...items: [bigint, string][]) {
  return mailboxes.append({ ...MAILBOX, items: items.map(([seq, item]) => ({ seq, item })) });
}

/** What the mailbox left in KV: its items (in order), its lease and its pending marker. */
export async function leftInKv(kv: Deno.Kv) {
  const items: unknown[] = [];
  for await (const e of kv.list<MailboxEntry>({ prefix: keys.mailbox(MAILBOX.dir, USER) })) {
    items.push(e.value.item);
  }
  const [lease, pending] = await kv.getMany<[{ owner: string }, unknown]>([
    keys.lease(MAILBOX.dir, USER),
    keys.pending(MAILBOX.dir, USER),
  ]);
  return { items, leaseOwner: lease.value?.owner ?? null, pending: pending.versionstamp !== null };
}

export const EMPTY = { items: [], leaseOwner: null, pending: false };
