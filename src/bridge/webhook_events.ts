/**
 * What Chatwoot's webhooks say, as the bridge uses it. The Chatwoot adapter
 * (src/chatwoot/webhook.ts) reads verified bodies into these shapes; the use
 * cases (intake, status_events, contact_sync, typing) take them from there.
 */
import type { InteractiveContent } from "./interactive.ts";
import type { AgentAttachment } from "./items.ts";

export interface ChatwootMessageEvent {
  event?: "message_created" | "message_updated";
  messageId: number;
  /** incoming | outgoing | activity | template */
  messageType: string;
  private: boolean;
  content: string;
  /** text, input_csat, … */
  contentType: string;
  inboxId: number;
  accountId: number | undefined;
  conversationId: number;
  /** conversation.meta.sender.identifier */
  contactIdentifier: string | null;
  /** conversation.contact_inbox.source_id */
  contactSourceId: string | null;
  /** content_attributes.in_reply_to: the Chatwoot message this answers. */
  inReplyTo?: number;
  /** content_attributes.in_reply_to_external_id: its source_id (a Discord message id for DMs). */
  inReplyToExternalId?: string;
  /** content_attributes.deleted: an agent deleted this message. */
  deleted?: boolean;
  attachments?: AgentAttachment[];
  /** An interactive message (options, cards, form, articles, email request), read and bounded. */
  interactive?: InteractiveContent;
}

/** conversation_updated / conversation_status_changed. */
export interface ConversationStatusEvent {
  event: "conversation_updated" | "conversation_status_changed";
  conversationId: number;
  inboxId: number;
  accountId: number | undefined;
  status: string;
  /** conversation_updated only: whether `changed_attributes` lists `status`. */
  statusChanged: boolean | undefined;
  contactIdentifier: string | null;
  contactSourceId: string | null;
  /** Unix seconds. */
  lastActivityAt: number;
  /** Chatwoot's `updated_at`, fractional seconds: orders events that arrive out of order. */
  updatedAt: number;
}

/** contact_created / contact_updated: whether the contact is blocked. */
export interface ContactChange {
  identifier: string | null;
  blocked: boolean;
  accountId?: number;
}

/** An agent typing (or stopping) in a conversation (conversation_typing_on/off). */
export interface AgentTypingEvent {
  on: boolean;
  conversationId: number;
  inboxId: number;
  /** Agents' typing only: private-note typing and the contact's own typing are left out. */
  byAgent: boolean;
  contactIdentifier: string | null;
  contactSourceId: string | null;
}

/** A verified webhook body, as the Chatwoot adapter reads it. */
export type ParsedWebhook =
  | { kind: "message"; message: ChatwootMessageEvent }
  | { kind: "conversation_status"; conversation: ConversationStatusEvent }
  | { kind: "typing"; typing: AgentTypingEvent }
  | { kind: "contact"; contact: ContactChange }
  | { kind: "other"; event: string }
  | { kind: "invalid"; reason: string };
