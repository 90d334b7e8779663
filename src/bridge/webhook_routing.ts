/**
 * Decides what a Chatwoot `message_created` event means for Discord: a reply
 * to relay, or something to drop (with the reason, for the logs).
 */
import type { ChatwootMessageEvent } from "./webhook_events.ts";
import type { AgentDeletion, CsatPromptItem, OutboundReply } from "./items.ts";

export type Routing =
  | { action: "relay"; reply: OutboundReply }
  | { action: "delete"; deletion: AgentDeletion }
  | { action: "ask-csat"; prompt: CsatPromptItem }
  | { action: "drop"; reason: string };

/** The survey link Chatwoot appends to a CSAT template: `<FRONTEND_URL>/survey/responses/<uuid>`. */
export function csatUuidFrom(content: string): string | undefined {
  return /\/survey\/responses\/([0-9a-fA-F-]{36})\b/.exec(content)?.[1];
}

const DISCORD_ID = /^\d{17,20}$/;

/** Content types shown as Discord components (when their content can be read and fits). */
const INTERACTIVE_TYPES = new Set(["input_select", "cards", "form", "article", "input_email"]);

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
  scope: { inboxId: number; accountId: number; csatEnabled: boolean },
  receivedAt: number,
): Routing {
  if (event.inboxId !== scope.inboxId) return { action: "drop", reason: "other inbox" };
  if (event.accountId !== undefined && event.accountId !== scope.accountId) {
    return { action: "drop", reason: "other account" };
  }
  if (event.private) return { action: "drop", reason: "private note" };
  if (event.event === "message_updated") {
    if (!event.deleted) return { action: "drop", reason: "message update" };
    const userId = discordUserOf(event);
    if (!userId) return { action: "drop", reason: "contact is not a Discord user" };
    return {
      action: "delete",
      deletion: {
        kind: "agent_delete",
        discordUserId: userId,
        chatwootMessageId: event.messageId,
        receivedAt,
      },
    };
  }
  if (event.messageType !== "outgoing" && event.messageType !== "template") {
    // Incoming messages are the echo of what the bridge itself posted.
    return { action: "drop", reason: `${event.messageType} message` };
  }
  const discordUserId = discordUserOf(event);
  if (!discordUserId) return { action: "drop", reason: "contact is not a Discord user" };
  if (event.messageType === "template") {
    if (event.contentType !== "input_csat") {
      // Chatwoot's greeting and out-of-office templates: cordwoot sends its own, once.
      return { action: "drop", reason: "chatwoot template message" };
    }
    if (!scope.csatEnabled) return { action: "drop", reason: "CSAT_ENABLED is false" };
    return {
      action: "ask-csat",
      prompt: {
        kind: "csat_prompt",
        discordUserId,
        conversationId: event.conversationId,
        uuid: csatUuidFrom(event.content) ?? null,
        receivedAt,
      },
    };
  }
  const unshown = INTERACTIVE_TYPES.has(event.contentType) && !event.interactive;
  if (event.content.trim() === "" && !event.attachments?.length && !event.interactive && !unshown) {
    return { action: "drop", reason: "no text" };
  }
  return {
    action: "relay",
    reply: {
      kind: "reply",
      discordUserId,
      conversationId: event.conversationId,
      chatwootMessageId: event.messageId,
      content: [
        toDiscordMarkdown(event.content),
        unshown ? "_(This message has choices or a form that Discord cannot show.)_" : "",
      ].filter((t) => t.trim() !== "").join("\n\n"),
      ...(event.inReplyTo !== undefined || event.inReplyToExternalId
        ? { replyTo: { chatwootId: event.inReplyTo, externalId: event.inReplyToExternalId } }
        : {}),
      ...(event.attachments?.length ? { attachments: event.attachments } : {}),
      ...(event.interactive ? { interactive: event.interactive } : {}),
      receivedAt,
    },
  };
}

/**
 * Chatwoot writes CommonMark; Discord reads almost all of it. What Discord
 * does not render is rewritten: images become their link, and escaped line
 * breaks lose their backslash.
 */
export function toDiscordMarkdown(text: string): string {
  return text
    .replace(
      /!\[([^\]]*)\]\(([^)\s]+)\)/g,
      (_m, alt: string, url: string) => alt ? `${alt}: ${url}` : url,
    )
    .replace(/\\\n/g, "\n");
}
