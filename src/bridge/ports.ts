import type { InteractiveContent, SubmittedValue } from "./interactive.ts";
import type { Topic } from "./prompts.ts";
import type { ComponentRow, NoticeEmbed } from "./items.ts";
import type { WorkingDay } from "./working_hours.ts";

/**
 * The ports the bridge core talks through. Adapters (src/discord, src/chatwoot,
 * src/store) implement them; the core never imports an adapter.
 */

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

// ---------------------------------------------------------------- Chatwoot

export interface ChatwootContactInbox {
  inboxId: number;
  sourceId: string;
}

export interface ChatwootContact {
  id: number;
  identifier: string | null;
  blocked: boolean;
  contactInboxes: ChatwootContactInbox[];
}

export interface ChatwootConversation {
  id: number;
  inboxId: number;
  status: string;
  /** Unix seconds. */
  lastActivityAt: number;
}

/** The inbox settings the ticket lifecycle follows (read from Chatwoot at run time). */
export interface InboxSettings {
  id: number;
  name: string;
  channelType: string;
  greetingEnabled: boolean;
  greetingMessage: string;
  workingHoursEnabled: boolean;
  workingHours: WorkingDay[];
  timeZone: string;
  outOfOfficeMessage: string;
  csatSurveyEnabled: boolean;
  lockToSingleConversation: boolean;
  /** The public id of the API inbox (client API paths). */
  inboxIdentifier: string;
}

export interface ConversationDetails {
  id: number;
  inboxId: number;
  status: string;
  /** Unix seconds. */
  lastActivityAt: number;
  /** The public id the CSAT survey link carries. */
  uuid: string | null;
}

export interface ChatwootMessage {
  id: number;
  sourceId: string | null;
  /** incoming | outgoing | activity | template */
  messageType: string;
  private: boolean;
  content: string;
  contentType: string;
  /** Unix seconds. */
  createdAt: number;
  /** The author's display name (an agent's available name; never an email). */
  senderName?: string;
  /** contact | user | agent_bot | …; absent for templates. */
  senderType?: string;
  /** Names of the files attached. */
  fileNames?: string[];
  /** Options, cards, a form, …: read like the webhook's. */
  interactive?: InteractiveContent;
}

export type { DownloadOutcome, UploadFile } from "./files.ts";
import type { DownloadOutcome, UploadFile } from "./files.ts";

/**
 * The global budget for attachment bytes held in memory (downloaded, not yet
 * uploaded) across every mailbox.
 */
export interface AttachmentMemory {
  /** The most bytes ever held at once; a file larger than this is never downloaded. */
  readonly capacity: number;
  /**
   * Waits its turn (first come, first served) until `bytes` fit, and returns
   * the release, which must be called once the bytes are gone (finally).
   * Undefined when the wait exceeded its bound; rejects when `signal` aborts.
   */
  hold(bytes: number, signal?: AbortSignal): Promise<(() => void) | undefined>;
}

export interface IncomingMessage {
  content: string;
  sourceId: string;
  /** Chatwoot message id this one answers. */
  inReplyTo?: number;
  /** The `source_id` of the message this one answers (Chatwoot resolves it). */
  inReplyToExternalId?: string;
  files?: UploadFile[];
}

export interface NewContact {
  name: string;
  identifier: string;
  email?: string;
  avatarUrl?: string;
  customAttributes: Record<string, string>;
  /** Also creates the contact inbox in the bridge inbox with this source id. */
  sourceId: string;
}

export interface ChatwootPort {
  /** Creates the contact and its contact inbox. Throws a 422 ServiceError when the identifier is taken. */
  createContact(contact: NewContact): Promise<{ contactId: number; sourceId: string | null }>;
  /** Contacts whose name, email, phone or identifier contain `query` (Chatwoot matches substrings). */
  searchContacts(query: string): Promise<ChatwootContact[]>;
  /** Idempotent for the same contact and source id. */
  createContactInbox(contactId: number, sourceId: string): Promise<{ sourceId: string }>;
  /** The contact's conversations in every inbox, most recently active first. */
  listContactConversations(contactId: number): Promise<ChatwootConversation[]>;
  createConversation(input: {
    contactId: number;
    sourceId: string;
    teamId?: number;
    customAttributes?: Record<string, string>;
  }): Promise<{ id: number }>;
  /** Sets the conversation's labels (Chatwoot replaces the list). */
  setConversationLabels(conversationId: number, labels: string[]): Promise<void>;
  setConversationPriority(id: number, priority: NonNullable<Topic["priority"]>): Promise<void>;
  createIncomingMessage(conversationId: number, message: IncomingMessage): Promise<{ id: number }>;
  /** The conversation's latest messages (Chatwoot returns up to 20), oldest first. */
  listMessages(conversationId: number): Promise<ChatwootMessage[]>;
  /** Up to 100 messages after message `afterId` (0: from the first), oldest first. */
  listMessagesAfter(conversationId: number, afterId: number): Promise<ChatwootMessage[]>;
  /** API inboxes only: delivery status of a message, with the reason when it failed. */
  updateMessageStatus(
    conversationId: number,
    messageId: number,
    status: "delivered" | "failed",
    externalError?: string,
  ): Promise<void>;
  /** An authenticated read of the bridge inbox: proves the URL, the token and the inbox. */
  getInbox(): Promise<InboxSettings>;
  getConversation(conversationId: number): Promise<ConversationDetails>;
  toggleStatus(conversationId: number, status: "open" | "resolved"): Promise<void>;
  createPrivateNote(conversationId: number, content: string): Promise<{ id: number }>;
  /**
   * Client API: shows the contact typing to agents (the Account API would
   * show the token's user instead). Needs the inbox identifier and the
   * contact's source id in the inbox.
   */
  toggleContactTyping(
    inboxIdentifier: string,
    contactSourceId: string,
    conversationId: number,
    on: boolean,
  ): Promise<void>;
  /**
   * Fetches an agent's attachment (`data_url` is a redirect to the storage):
   * only from CHATWOOT_BASE_URL's origin or ATTACHMENT_ALLOWED_ORIGINS, at
   * most `maxBytes`. Throws a ChatwootError when the storage fails.
   */
  downloadAttachment(
    attachment: { url: string; name: string; contentType: string },
    limits: { maxBytes: number },
  ): Promise<DownloadOutcome>;
  /** Public CSAT endpoint; 422 once the survey is older than 14 days. */
  submitCsat(uuid: string, response: { rating: number; feedback: string }): Promise<void>;
  /**
   * Client API, as Chatwoot's web widget answers an interactive message:
   * writes `submitted_values` on it (fires `message_updated` for bots).
   */
  submitInteractiveAnswer(
    where: {
      inboxIdentifier: string;
      contactSourceId: string;
      conversationId: number;
      messageId: number;
    },
    values: SubmittedValue[],
  ): Promise<void>;
  /** Sets the contact's email; 422 when another contact has it (contacts are never merged). */
  setContactEmail(contactId: number, email: string): Promise<void>;
}

// ---------------------------------------------------------------- Discord

export type { DiscordChannelMessage, DiscordPort, OutgoingDiscordMessage } from "./discord_port.ts";

// ---------------------------------------------------------------- State

/** What the bridge remembers about one Discord user. */
export interface TicketRecord {
  userId: string;
  contactId: number;
  /** The contact inbox source id in the bridge inbox. */
  sourceId: string;
  conversationId?: number;
  /** Epoch ms when the bridge attached this conversation; older messages in it are not its to relay. */
  since?: number;
  /** The contact is blocked in Chatwoot: DMs open no ticket. */
  blocked?: boolean;
  /** The topic's labels and priority, until they are set on the new conversation. */
  pendingTopic?: Pick<Topic, "labels" | "priority">;
}

/** Which Discord messages carry which Chatwoot message, both ways. */
export interface MessageLinks {
  /** The Discord message ids a Chatwoot message was delivered as, if it was. */
  discordFor(chatwootMessageId: number): Promise<string[] | undefined>;
  link(chatwootMessageId: number, discordMessageIds: string[]): Promise<void>;
  /** The Chatwoot message a Discord message belongs to (a forwarded DM or a delivered reply). */
  chatwootFor(discordMessageId: string): Promise<number | undefined>;
  /** Sets a one-time flag; false when it was already set (e.g. "private note about closed DMs sent"). */
  once(kind: string, id: string): Promise<boolean>;
}

export interface TicketStore {
  get(userId: string): Promise<TicketRecord | undefined>;
  save(record: TicketRecord): Promise<void>;
  /** DM channels are kept apart from tickets: an agent may write to a user who never wrote first. */
  getDmChannel(userId: string): Promise<string | undefined>;
  saveDmChannel(userId: string, channelId: string): Promise<void>;
  /** The user whose DM channel this is, if the bridge has seen it. */
  userForDmChannel(channelId: string): Promise<string | undefined>;
}

// ---------------------------------------------------------------- Mailboxes

/** Answers an interaction (its token lives 15 minutes). */
export interface InteractionReplies {
  /** Shows `embed` (and components) as the interaction's answer; fails once the token expired. */
  editReply(interactionToken: string, embed: NoticeEmbed, rows?: ComponentRow[]): Promise<void>;
}

/** What is deduplicated, by id: each kind is kept as long as it can come again (store/seen.ts). */
export type SeenKind =
  | "dm"
  | "dm_edit"
  | "dm_delete"
  | "message_created"
  | "message_deleted"
  | "notice"
  | "csat"
  | "delivery"
  | "interaction"
  | "interactive_answer";

export interface MailboxAppend {
  dir: "in" | "out";
  userId: string;
  /** Items in delivery order; `seq` orders them within the user's mailbox. */
  items: { seq: bigint; item: unknown }[];
  /** When set, the append happens only if these keys were never seen before. */
  dedupe?: { kind: SeenKind; id: string } | { kind: SeenKind; id: string }[];
}

export interface MailboxPort {
  /** Stores the items durably and wakes the mailbox; false when the dedupe key was seen. */
  append(request: MailboxAppend): Promise<boolean>;
  /** Runs the mailbox now, though its head item waits: the user gave what it waits for. */
  resume(dir: "in" | "out", userId: string): void;
}

// ---------------------------------------------------------------- Lifecycle state

export interface InboxSettingsSource {
  /**
   * The inbox settings, at most five minutes old. When Chatwoot cannot be
   * reached the last known settings are used, and without any, defaults
   * (always open, no lock) — a DM is never held back for want of settings.
   */
  get(): Promise<InboxSettings>;
  /** Stores settings just read (the health check reads the inbox every minute anyway). */
  remember(settings: InboxSettings): Promise<void>;
}

/** What the bridge knows of one conversation, from webhooks and its own actions. */
export interface ConversationState {
  userId: string;
  status: string;
  /** Unix seconds, from the last status event. */
  lastActivityAt: number;
  /** Chatwoot's `updated_at` of the last status event applied; older events are ignored. */
  eventAt: number;
  /** The out-of-office notice was shown since the conversation was last resolved. */
  outOfOfficeShown?: boolean;
}

export interface ConversationStore {
  get(conversationId: number): Promise<ConversationState | undefined>;
  /** Applies `change` atomically (retrying on conflict) and returns the states before and after. */
  update(
    conversationId: number,
    change: (current: ConversationState | undefined) => ConversationState | undefined,
  ): Promise<{ before: ConversationState | undefined; after: ConversationState | undefined }>;
  /** Marks that the user was told delivery is delayed; false when they already were. */
  markDelayNotified(userId: string): Promise<boolean>;
  clearDelayNotified(userId: string): Promise<void>;
}

/** A CSAT question shown to a user, and whether they answered it. */
export interface CsatPrompt {
  uuid: string;
  userId: string;
  conversationId: number;
  channelId: string;
  messageId: string;
  rating?: number;
}

export interface CsatStore {
  get(uuid: string): Promise<CsatPrompt | undefined>;
  save(prompt: CsatPrompt): Promise<void>;
}
