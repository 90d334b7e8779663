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
import type { AgentAlertItem, DeliveryStatusItem, UserNotice } from "./items.ts";
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

/** The fields of a failed item this module reads; every mailbox item kind has `kind`. */
interface FailedItem {
  kind?: unknown;
  messageId?: unknown;
  uuid?: unknown;
  noticeId?: unknown;
  conversationId?: unknown;
  chatwootMessageId?: unknown;
  receivedAt?: unknown;
  csat?: { conversationId?: unknown };
}

const USER_ITEMS: Record<string, string> = {
  dm: "Your message",
  dm_edit: "Your edit of a message",
  dm_delete: "The deletion of your message",
  csat_rating: "Your rating",
};

const AGENT_ITEMS: Record<string, string> = {
  reply: "a reply",
  notice: "a notice",
  csat_prompt: "the satisfaction survey",
  agent_delete: "the deletion of a message",
  // Stored by an earlier version.
  delete: "the deletion of a message",
};

/**
 * The follow-up items that tell the sender of an item that failed for good.
 * None for the messages that do the telling (no loop).
 */
export function tellSender(
  dir: "in" | "out",
  userId: string,
  raw: unknown,
  reason: string,
): (UserNotice | AgentAlertItem)[] {
  if (typeof raw !== "object" || raw === null) return [];
  const item = raw as FailedItem;
  const kind = typeof item.kind === "string" ? item.kind : "";
  const at = typeof item.receivedAt === "number" ? item.receivedAt : Date.now();
  if (dir === "in" && kind in USER_ITEMS) {
    const id = String(item.messageId ?? item.uuid ?? at);
    return [
      notice(userId, `undelivered:${kind}:${id}`, {
        tone: "danger",
        title: "Message not delivered",
        description: `${USER_ITEMS[kind]} from ${
          discordTimestamp(at)
        } could not be passed on to our support team. Please send it again, perhaps in other words.`,
      }),
    ];
  }
  if (dir === "out" && kind in AGENT_ITEMS) {
    if (kind === "notice" && String(item.noticeId).startsWith("undelivered:")) return [];
    const conversationId = typeof item.conversationId === "number"
      ? item.conversationId
      : typeof item.csat?.conversationId === "number"
      ? item.csat.conversationId
      : undefined;
    return [{
      kind: "agent_alert",
      discordUserId: userId,
      ...(conversationId !== undefined ? { conversationId } : {}),
      ...(kind === "reply" && typeof item.chatwootMessageId === "number"
        ? { chatwootMessageId: item.chatwootMessageId }
        : {}),
      what: AGENT_ITEMS[kind],
      reason,
      receivedAt: Date.now(),
    }];
  }
  return [];
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
