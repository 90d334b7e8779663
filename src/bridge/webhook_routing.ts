/**
 * Decides what a Chatwoot `message_created` event means for Discord: a reply
 * to relay, or something to drop (with the reason, for the logs).
 */
import type { OutboundReply } from "./outbound.ts";

/** The fields of a `message_created` webhook the bridge uses (parsed by the Chatwoot adapter). */
export interface ChatwootMessageEvent {
  messageId: number;
  /** incoming | outgoing | activity | template */
  messageType: string;
  private: boolean;
  content: string;
  inboxId: number;
  accountId: number | undefined;
  conversationId: number;
  /** conversation.meta.sender.identifier */
  contactIdentifier: string | null;
  /** conversation.contact_inbox.source_id */
  contactSourceId: string | null;
}

export type Routing =
  | { action: "relay"; reply: OutboundReply }
  | { action: "drop"; reason: string };

const DISCORD_ID = /^\d{17,20}$/;

/**
 * The Discord user a conversation belongs to: the contact identifier
 * `discord:<id>` first, else the contact inbox source id (`<id>`, or
 * `discord:<id>` as other bridges wrote it).
 */
export function discordUserOf(
  event: Pick<ChatwootMessageEvent, "contactIdentifier" | "contactSourceId">,
): string | undefined {
  for (const candidate of [event.contactIdentifier, event.contactSourceId]) {
    const id = candidate?.replace(/^discord:/, "");
    if (id && DISCORD_ID.test(id)) return id;
  }
  return undefined;
}

export function routeMessageEvent(
  event: ChatwootMessageEvent,
  scope: { inboxId: number; accountId: number },
  receivedAt: number,
): Routing {
  if (event.inboxId !== scope.inboxId) return { action: "drop", reason: "other inbox" };
  if (event.accountId !== undefined && event.accountId !== scope.accountId) {
    return { action: "drop", reason: "other account" };
  }
  if (event.private) return { action: "drop", reason: "private note" };
  if (event.messageType !== "outgoing" && event.messageType !== "template") {
    // Incoming messages are the echo of what the bridge itself posted.
    return { action: "drop", reason: `${event.messageType} message` };
  }
  if (event.content.trim() === "") return { action: "drop", reason: "no text" };
  const discordUserId = discordUserOf(event);
  if (!discordUserId) return { action: "drop", reason: "contact is not a Discord user" };
  return {
    action: "relay",
    reply: {
      kind: "reply",
      discordUserId,
      conversationId: event.conversationId,
      chatwootMessageId: event.messageId,
      content: event.content,
      receivedAt,
    },
  };
}
