/**
 * What happens around a message that could not be delivered, and the status
 * updates that follow a delivery.
 *
 * - `tellSender`: when an item fails for good, its sender learns it: the
 *   Discord user gets a short notice; the agent gets the reply marked failed
 *   and a private note. These travel as follow-up items in the same mailbox,
 *   so they are durable and retried like anything else.
 * - `reportDeliveryStatus`: the "delivered" mark on a reply is its own item,
 *   written when the reply's Discord messages are recorded. A failing status
 *   update is retried alone and can never send the reply again.
 */
import { isServiceStatus } from "./errors.ts";
import {
  type AgentAlertItem,
  type DeliveryStatusItem,
  type Direction,
  type OutboundItem,
  readItem,
  type UserNotice,
} from "./items.ts";
import { notice } from "./notices.ts";
import type { ChatwootPort, Logger, MessageLinks, TicketStore } from "./ports.ts";
import { discordTimestamp } from "./working_hours.ts";

export function deliveryStatusFor(
  reply: { discordUserId: string; conversationId: number; chatwootMessageId: number },
): DeliveryStatusItem {
  return {
    kind: "delivery_status",
    discordUserId: reply.discordUserId,
    conversationId: reply.conversationId,
    chatwootMessageId: reply.chatwootMessageId,
    receivedAt: Date.now(),
  };
}

/** What each of the user's items is, to them; and each of the agents' items, to the agents. */
const USER_ITEMS: Record<
  "dm" | "dm_edit" | "dm_delete" | "csat_rating" | "interactive_answer",
  string
> = {
  dm: "Your message",
  dm_edit: "Your edit of a message",
  dm_delete: "The deletion of your message",
  csat_rating: "Your rating",
  interactive_answer: "Your answer",
};
const AGENT_ITEMS: Record<OutboundItem["kind"], string> = {
  reply: "a reply",
  notice: "a notice",
  csat_prompt: "the satisfaction survey",
  agent_delete: "the deletion of a message",
};

/**
 * The follow-up items (for the user's other mailbox) that tell the sender of
 * an item that failed for good. None for the bridge's own bookkeeping items,
 * nor for a "not delivered" notice itself (no loop).
 */
export function tellSender(
  dir: Direction,
  userId: string,
  stored: unknown,
  reason: string,
): (UserNotice | AgentAlertItem)[] {
  if (dir === "in") {
    const item = readItem("in", stored);
    // A kind this version does not know (written by a newer one, say): its sender is still told.
    if (!item) return hasKind(stored) ? [unknownItemNotice(userId, stored)] : [];
    if (item.kind === "delivery_status" || item.kind === "agent_alert") return [];
    const id = item.kind === "csat_rating"
      ? item.uuid
      : item.kind === "interactive_answer"
      ? item.chatwootMessageId
      : item.messageId;
    return [
      notice(userId, `undelivered:${item.kind}:${id}`, {
        tone: "danger",
        title: "Message not delivered",
        description: `${USER_ITEMS[item.kind]} from ${
          discordTimestamp(item.receivedAt)
        } could not be passed on to our support team. Please send it again, perhaps in other words.`,
      }),
    ];
  }
  const item = readItem("out", stored);
  // Unknown here: the agents cannot be told what it was (a user's item is still answered above).
  if (!item) return [];
  if (item.kind === "notice" && String(item.noticeId).startsWith("undelivered:")) return [];
  const conversationId = item.kind === "reply" || item.kind === "csat_prompt"
    ? item.conversationId
    : item.kind === "notice"
    ? item.csat?.conversationId
    : undefined;
  return [{
    kind: "agent_alert",
    discordUserId: userId,
    ...(conversationId !== undefined ? { conversationId } : {}),
    ...(item.kind === "reply" ? { chatwootMessageId: item.chatwootMessageId } : {}),
    what: AGENT_ITEMS[item.kind],
    reason,
    receivedAt: Date.now(),
  }];
}

/** A stored item of some kind (as opposed to garbage, which has no sender to tell). */
function hasKind(stored: unknown): boolean {
  return typeof stored === "object" && stored !== null && "kind" in stored &&
    typeof stored.kind === "string";
}

/** "Not delivered" for an item whose kind is unknown: no id to quote, its time if it has one. */
function unknownItemNotice(userId: string, stored: unknown): UserNotice {
  const at = typeof stored === "object" && stored !== null && "receivedAt" in stored &&
      typeof stored.receivedAt === "number"
    ? stored.receivedAt
    : Date.now();
  return notice(userId, `undelivered:unknown:${at}`, {
    tone: "danger",
    title: "Message not delivered",
    description: `A message you sent ${
      discordTimestamp(at)
    } could not be passed on to our support team. Please send it again, perhaps in other words.`,
  });
}

export interface AlertDeps {
  chatwoot: ChatwootPort;
  tickets: TicketStore;
  links: MessageLinks;
  log: Logger;
}

/** Marks the failed message (if any) and leaves one private note per failed item. */
export async function alertAgent(deps: AlertDeps, alert: AgentAlertItem): Promise<void> {
  const conversationId = alert.conversationId ??
    (await deps.tickets.get(alert.discordUserId))?.conversationId;
  if (conversationId === undefined) {
    deps.log.warn("undelivered item: no conversation to tell", {
      discordUserId: alert.discordUserId,
      what: alert.what,
    });
    return;
  }
  const why = `cordwoot could not deliver ${alert.what} to the user on Discord: ${alert.reason}`;
  const failedMessage = alert.chatwootMessageId;
  if (failedMessage !== undefined) {
    await ignoringGone(() =>
      deps.chatwoot.updateMessageStatus(conversationId, failedMessage, "failed", why)
    );
  }
  const noteId = `${conversationId}:${alert.chatwootMessageId ?? alert.receivedAt}`;
  if (await deps.links.once("failure_note", noteId)) {
    await ignoringGone(() => deps.chatwoot.createPrivateNote(conversationId, `${why}.`));
  }
  deps.log.info("agents told of an undelivered item", {
    discordUserId: alert.discordUserId,
    conversationId,
    chatwootMessageId: alert.chatwootMessageId,
  });
}

/** Marks a reply delivered. A message or conversation deleted meanwhile has nothing to mark. */
export async function reportDeliveryStatus(
  deps: Pick<AlertDeps, "chatwoot" | "log">,
  item: DeliveryStatusItem,
): Promise<void> {
  const gone = await ignoringGone(() =>
    deps.chatwoot.updateMessageStatus(item.conversationId, item.chatwootMessageId, "delivered")
  );
  if (gone) {
    deps.log.info("delivery status not recorded: the message is gone from chatwoot", {
      conversationId: item.conversationId,
      chatwootMessageId: item.chatwootMessageId,
    });
  }
}

/** Runs a Chatwoot update; true when its target no longer exists (404) or cannot take it (422). */
async function ignoringGone(update: () => Promise<unknown>): Promise<boolean> {
  try {
    await update();
    return false;
  } catch (error) {
    if (isServiceStatus(error, "chatwoot", 404) || isServiceStatus(error, "chatwoot", 422)) {
      return true;
    }
    throw error;
  }
}
