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

export interface NewContact {
  name: string;
  identifier: string;
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
  createConversation(input: { contactId: number; sourceId: string }): Promise<{ id: number }>;
  createIncomingMessage(
    conversationId: number,
    message: { content: string; sourceId: string },
  ): Promise<{ id: number }>;
  /** The conversation's latest messages (Chatwoot returns up to 20). */
  listMessages(conversationId: number): Promise<{ id: number; sourceId: string | null }[]>;
  /** An authenticated read of the bridge inbox: proves the URL, the token and the inbox. */
  getInbox(): Promise<{ id: number; name: string; channelType: string }>;
}

// ---------------------------------------------------------------- Discord

export interface OutgoingDiscordMessage {
  content: string;
  /** Discord drops a second message with the same nonce sent within a few minutes. */
  nonce?: string;
}

export interface DiscordPort {
  /** Opens (or returns) the DM channel with a user. */
  openDmChannel(userId: string): Promise<string>;
  /** Sends a message that can never ping anyone. */
  sendMessage(channelId: string, message: OutgoingDiscordMessage): Promise<{ id: string }>;
  addReaction(channelId: string, messageId: string, emoji: string): Promise<void>;
}

// ---------------------------------------------------------------- State

/** What the bridge remembers about one Discord user. */
export interface TicketRecord {
  userId: string;
  contactId: number;
  /** The contact inbox source id in the bridge inbox. */
  sourceId: string;
  conversationId?: number;
}

export interface TicketStore {
  get(userId: string): Promise<TicketRecord | undefined>;
  save(record: TicketRecord): Promise<void>;
  /** DM channels are kept apart from tickets: an agent may write to a user who never wrote first. */
  getDmChannel(userId: string): Promise<string | undefined>;
  saveDmChannel(userId: string, channelId: string): Promise<void>;
}

// ---------------------------------------------------------------- Mailboxes

export interface MailboxAppend {
  dir: "in" | "out";
  userId: string;
  /** Items in delivery order; `seq` orders them within the user's mailbox. */
  items: { seq: bigint; item: unknown }[];
  /** When set, the append happens only if this key was never seen before. */
  dedupe?: { kind: string; id: string };
}

export interface MailboxPort {
  /** Stores the items durably and wakes the mailbox; false when the dedupe key was seen. */
  append(request: MailboxAppend): Promise<boolean>;
}
