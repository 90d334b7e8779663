/**
 * Intake: what arrives from either side is stored in the user's mailbox
 * before anything else happens, so a crash or an outage after this point
 * delays delivery but never loses it.
 */

import type { ChatwootMessageEvent } from "./webhook_events.ts";
import type { DmDeletion, DmEdit, InboundDm, OutboundReply } from "./items.ts";
import type { Logger, MailboxPort, SeenKind } from "./ports.ts";
import { splitMessage } from "./split_message.ts";
import { routeMessageEvent } from "./webhook_routing.ts";

export interface IntakeDeps {
  mailbox: MailboxPort;
  log: Logger;
}

/**
 * Queues a user's DM, whichever way it came (gateway, ticket command, the
 * catch-up of missed DMs): false when ALLOW_FROM leaves the sender out, or it
 * is a duplicate. The Discord message id orders the mailbox (snowflakes grow
 * with time) and dedupes a gateway event delivered twice.
 */
export async function acceptDm(
  deps: IntakeDeps & { allowFrom: Set<string> | undefined },
  dm: InboundDm,
): Promise<boolean> {
  if (!senderAllowed(deps.allowFrom, dm.author)) {
    deps.log.debug("dm ignored: sender not in ALLOW_FROM", { discordUserId: dm.author.id });
    return false;
  }
  const accepted = await deps.mailbox.append({
    dir: "in",
    userId: dm.author.id,
    items: [{ seq: BigInt(dm.messageId), item: dm }],
    dedupe: { kind: "dm", id: dm.messageId },
  });
  deps.log.info(accepted ? "dm queued" : "duplicate dm ignored", {
    discordUserId: dm.author.id,
    discordMessageId: dm.messageId,
  });
  return accepted;
}

/**
 * ALLOW_FROM: when set, only these Discord user ids or usernames (any case)
 * may open tickets; everyone else is ignored without anything being created.
 */
export function senderAllowed(
  allowFrom: Set<string> | undefined,
  author: { id: string; username: string },
): boolean {
  return !allowFrom || allowFrom.has(author.id) || allowFrom.has(author.username.toLowerCase());
}

/**
 * Each mailbox's order for the moment `epochMs`, after everything queued
 * before it: the inbound mailbox is ordered by Discord snowflakes (a DM's id),
 * the outbound one by `createSequence`'s values.
 */
export function mailboxSeqAt(dir: "in" | "out", epochMs: number): bigint {
  return dir === "in" ? snowflakeAt(epochMs) : BigInt(epochMs) * 1000n + 999n;
}

/** The largest snowflake of a moment: orders an event after every message sent before it. */
function snowflakeAt(epochMs: number): bigint {
  return ((BigInt(Math.max(epochMs, 1420070400000)) - 1420070400000n) << 22n) | 0x3fffffn;
}

/** Queues a user's edit or deletion of a DM behind everything they sent before it. */
export async function acceptDmChange(
  deps: IntakeDeps,
  change: DmEdit | DmDeletion,
): Promise<boolean> {
  const at = change.kind === "dm_edit" ? change.editedAt : change.receivedAt;
  return await deps.mailbox.append({
    dir: "in",
    userId: change.userId,
    items: [{ seq: snowflakeAt(at), item: change }],
    dedupe: { kind: change.kind, id: `${change.messageId}:${at}` },
  });
}

/** KV values are limited to 64 KiB; replies longer than this are stored as several items. */
export const STORED_SEGMENT_CHARS = 12_000;

export type MessageEventOutcome =
  | { status: "queued"; discordUserId: string }
  | { status: "duplicate" }
  | { status: "dropped"; reason: string };

/** Longer is not a Chatwoot delivery id (a UUID): there is nothing to dedupe on. */
export const MAX_DELIVERY_ID_LENGTH = 200;

/** True for an `X-Chatwoot-Delivery` value that can be deduplicated on. */
export function isDeliveryId(value: string | undefined): value is string {
  return value !== undefined && value !== "" && value.length <= MAX_DELIVERY_ID_LENGTH;
}

/** Queues an agent's message for the Discord user, once per Chatwoot message id. */
export async function acceptMessageEvent(
  deps: IntakeDeps & {
    scope: { inboxId: number; accountId: number; csatEnabled: boolean };
    nextSeq: () => bigint;
  },
  event: ChatwootMessageEvent,
  /** X-Chatwoot-Delivery, when the event came by webhook: a replayed delivery is a duplicate. */
  deliveryId?: string,
): Promise<MessageEventOutcome> {
  const routing = routeMessageEvent(event, deps.scope, Date.now());
  const delivery: { kind: SeenKind; id: string }[] = isDeliveryId(deliveryId)
    ? [{ kind: "delivery", id: deliveryId }]
    : [];
  if (routing.action === "drop") return { status: "dropped", reason: routing.reason };
  const queueOne = async (item: { discordUserId: string }, dedupeKind: SeenKind) => {
    const accepted = await deps.mailbox.append({
      dir: "out",
      userId: item.discordUserId,
      items: [{ seq: deps.nextSeq(), item }],
      dedupe: [{ kind: dedupeKind, id: String(event.messageId) }, ...delivery],
    });
    return accepted
      ? { status: "queued" as const, discordUserId: item.discordUserId }
      : { status: "duplicate" as const };
  };
  if (routing.action === "ask-csat") return await queueOne(routing.prompt, "message_created");
  if (routing.action === "delete") return await queueOne(routing.deletion, "message_deleted");
  const reply = routing.reply;
  const segments = segmentForStorage(reply);
  const accepted = await deps.mailbox.append({
    dir: "out",
    userId: reply.discordUserId,
    items: segments.map((item) => ({ seq: deps.nextSeq(), item })),
    dedupe: [{ kind: "message_created", id: String(reply.chatwootMessageId) }, ...delivery],
  });
  return accepted
    ? { status: "queued", discordUserId: reply.discordUserId }
    : { status: "duplicate" };
}

function segmentForStorage(reply: OutboundReply): OutboundReply[] {
  if (reply.content.length <= STORED_SEGMENT_CHARS) return [reply];
  const { interactive, ...text } = reply;
  const parts = splitMessage(reply.content, STORED_SEGMENT_CHARS);
  // The components go under the last part.
  return parts.map((content, segment) => ({
    ...text,
    segment,
    content,
    ...(interactive && segment === parts.length - 1 ? { interactive } : {}),
  }));
}

/**
 * Mailbox order for items that carry no natural order of their own:
 * microseconds since the epoch, strictly increasing within this process.
 */
export function createSequence(now: () => number = Date.now): () => bigint {
  let last = 0n;
  return () => {
    const candidate = BigInt(now()) * 1000n;
    last = candidate > last ? candidate : last + 1n;
    return last;
  };
}
