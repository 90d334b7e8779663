/**
 * An in-memory Chatwoot (ChatwootPort) for use-case tests. It answers like the
 * real one where the core depends on it: 422 for a taken contact identifier,
 * 404 for a conversation or message it does not have. It keeps what was
 * stored and every method called; `failNext(method, ...outcomes)` makes the
 * next calls fail (an error) or answer (null).
 */
import type { SubmittedValue } from "../../src/bridge/interactive.ts";
import type {
  ChatwootContact,
  ChatwootConversation,
  ChatwootMessage,
  ChatwootPort,
  ConversationDetails,
  DownloadOutcome,
  InboxSettings,
  IncomingMessage,
  NewContact,
} from "../../src/bridge/ports.ts";
import { ChatwootFailure, Faults } from "./service_failures.ts";

export type StoredMessage = ChatwootMessage & {
  conversationId: number;
  inReplyTo?: number;
  inReplyToExternalId?: string;
  fileNames?: string[];
};

export interface StoredConversation extends ChatwootConversation {
  contactId: number;
  uuid: string | null;
}

export function inboxSettings(overrides: Partial<InboxSettings> = {}): InboxSettings {
  return {
    id: 7,
    name: "Support",
    channelType: "Channel::Api",
    greetingEnabled: false,
    greetingMessage: "",
    workingHoursEnabled: false,
    workingHours: [],
    timeZone: "UTC",
    outOfOfficeMessage: "",
    csatSurveyEnabled: false,
    lockToSingleConversation: false,
    inboxIdentifier: "inbox-public-id",
    ...overrides,
  };
}

export class MemoryChatwoot implements ChatwootPort {
  /** Every method called, in order. */
  readonly calls: (keyof ChatwootPort)[] = [];
  readonly contacts = new Map<number, ChatwootContact & { name: string }>();
  readonly conversations = new Map<number, StoredConversation>();
  readonly messages: StoredMessage[] = [];
  readonly statusUpdates: {
    conversationId: number;
    messageId: number;
    status: "delivered" | "failed";
    externalError?: string;
  }[] = [];
  readonly csatSubmissions: { uuid: string; rating: number; feedback: string }[] = [];
  readonly labels = new Map<number, string[]>();
  readonly priorities = new Map<number, string>();
  readonly answers: { conversationId: number; messageId: number; values: SubmittedValue[] }[] = [];
  readonly emails = new Map<number, string>();
  readonly typing: { conversationId: number; on: boolean }[] = [];
  /** Agent attachments the storage serves, by URL. */
  readonly files = new Map<string, Uint8Array<ArrayBuffer>>();
  readonly faults = new Faults();
  #nextId = 100;

  constructor(readonly inboxId = 7, public settings = inboxSettings({ id: inboxId })) {}

  failNext(method: keyof ChatwootPort, ...errors: (Error | null)[]) {
    this.faults.failNext(method, ...errors);
  }

  /** A contact as an agent or an earlier bridge left it. */
  addContact(identifier: string, extra: { blocked?: boolean; sourceId?: string } = {}): number {
    const id = this.#nextId++;
    this.contacts.set(id, {
      id,
      name: identifier,
      identifier,
      blocked: extra.blocked ?? false,
      contactInboxes: extra.sourceId ? [{ inboxId: this.inboxId, sourceId: extra.sourceId }] : [],
    });
    return id;
  }

  addConversation(contactId: number, status = "open"): number {
    const id = this.#nextId++;
    this.conversations.set(id, {
      id,
      contactId,
      inboxId: this.inboxId,
      status,
      lastActivityAt: Math.floor(Date.now() / 1000),
      uuid: crypto.randomUUID(),
    });
    return id;
  }

  /** What an agent wrote in a conversation (the message a reply delivers). */
  addAgentMessage(conversationId: number, content: string): number {
    return this.#store(conversationId, { messageType: "outgoing", content, sourceId: null }).id;
  }

  /** Messages of a conversation as agents see them: incoming ones, or the private notes. */
  incoming(conversationId: number): StoredMessage[] {
    return this.messages.filter((m) =>
      m.conversationId === conversationId && m.messageType === "incoming"
    );
  }
  privateNotes(conversationId: number): StoredMessage[] {
    return this.messages.filter((m) => m.conversationId === conversationId && m.private);
  }

  /** Records the call; an injected failure rejects it like a failed request. */
  #call(method: keyof ChatwootPort): Promise<void> {
    this.calls.push(method);
    return this.faults.outcome(method);
  }

  #conversation(id: number): StoredConversation {
    const c = this.conversations.get(id);
    if (!c) throw new ChatwootFailure(404, `conversation ${id} not found`);
    return c;
  }

  #store(
    conversationId: number,
    m: Pick<StoredMessage, "messageType" | "content" | "sourceId"> & Partial<StoredMessage>,
  ): StoredMessage {
    this.#conversation(conversationId);
    const message: StoredMessage = {
      id: this.#nextId++,
      private: false,
      contentType: "text",
      createdAt: Math.floor(Date.now() / 1000),
      conversationId,
      ...m,
    };
    this.messages.push(message);
    return message;
  }

  async createContact(contact: NewContact) {
    await this.#call("createContact");
    if ([...this.contacts.values()].some((c) => c.identifier === contact.identifier)) {
      throw new ChatwootFailure(422, "Identifier has already been taken");
    }
    const id = this.addContact(contact.identifier, { sourceId: contact.sourceId });
    this.contacts.get(id)!.name = contact.name;
    return { contactId: id, sourceId: contact.sourceId };
  }

  async searchContacts(query: string) {
    await this.#call("searchContacts");
    return [...this.contacts.values()].filter((c) =>
      c.name.includes(query) || (c.identifier ?? "").includes(query)
    );
  }

  async createContactInbox(contactId: number, sourceId: string) {
    await this.#call("createContactInbox");
    const contact = this.contacts.get(contactId);
    if (!contact) throw new ChatwootFailure(404);
    if (!contact.contactInboxes.some((ci) => ci.inboxId === this.inboxId)) {
      contact.contactInboxes.push({ inboxId: this.inboxId, sourceId });
    }
    return { sourceId };
  }

  async listContactConversations(contactId: number) {
    await this.#call("listContactConversations");
    return [...this.conversations.values()]
      .filter((c) => c.contactId === contactId)
      .sort((a, b) => b.lastActivityAt - a.lastActivityAt)
      .map(({ id, inboxId, status, lastActivityAt }) => ({ id, inboxId, status, lastActivityAt }));
  }

  async createConversation(input: { contactId: number; sourceId: string }) {
    await this.#call("createConversation");
    if (!this.contacts.has(input.contactId)) throw new ChatwootFailure(404);
    return { id: this.addConversation(input.contactId) };
  }

  async createIncomingMessage(conversationId: number, message: IncomingMessage) {
    await this.#call("createIncomingMessage");
    const stored = this.#store(conversationId, {
      messageType: "incoming",
      content: message.content,
      sourceId: message.sourceId,
      inReplyTo: message.inReplyTo,
      inReplyToExternalId: message.inReplyToExternalId,
      ...(message.files ? { fileNames: message.files.map((f) => f.name) } : {}),
    });
    return { id: stored.id };
  }

  async listMessages(conversationId: number) {
    await this.#call("listMessages");
    this.#conversation(conversationId);
    return this.messages.filter((m) => m.conversationId === conversationId).slice(-20);
  }

  async listMessagesAfter(conversationId: number, afterId: number) {
    await this.#call("listMessagesAfter");
    this.#conversation(conversationId);
    return this.messages.filter((m) => m.conversationId === conversationId && m.id > afterId)
      .slice(0, 100);
  }

  async updateMessageStatus(
    conversationId: number,
    messageId: number,
    status: "delivered" | "failed",
    externalError?: string,
  ) {
    await this.#call("updateMessageStatus");
    this.#conversation(conversationId);
    if (!this.messages.some((m) => m.id === messageId && m.conversationId === conversationId)) {
      throw new ChatwootFailure(404, `message ${messageId} not found`);
    }
    this.statusUpdates.push({
      conversationId,
      messageId,
      status,
      ...(externalError !== undefined ? { externalError } : {}),
    });
  }

  async getInbox() {
    await this.#call("getInbox");
    return this.settings;
  }

  async getConversation(conversationId: number): Promise<ConversationDetails> {
    await this.#call("getConversation");
    const { id, inboxId, status, lastActivityAt, uuid } = this.#conversation(conversationId);
    return { id, inboxId, status, lastActivityAt, uuid };
  }

  async toggleStatus(conversationId: number, status: "open" | "resolved") {
    await this.#call("toggleStatus");
    this.#conversation(conversationId).status = status;
  }

  async createPrivateNote(conversationId: number, content: string) {
    await this.#call("createPrivateNote");
    const note = this.#store(conversationId, {
      messageType: "outgoing",
      content,
      sourceId: null,
      private: true,
    });
    return { id: note.id };
  }

  async toggleContactTyping(
    _inboxIdentifier: string,
    _contactSourceId: string,
    conversationId: number,
    on: boolean,
  ) {
    await this.#call("toggleContactTyping");
    this.typing.push({ conversationId, on });
  }

  async downloadAttachment(
    attachment: { url: string; name: string; contentType: string },
    limits: { maxBytes: number },
  ): Promise<DownloadOutcome> {
    await this.#call("downloadAttachment");
    const bytes = this.files.get(attachment.url);
    if (!bytes) throw new ChatwootFailure(404);
    if (bytes.length > limits.maxBytes) return { refused: "too-large" };
    return { file: { name: attachment.name, contentType: attachment.contentType, bytes } };
  }

  async submitCsat(uuid: string, response: { rating: number; feedback: string }) {
    await this.#call("submitCsat");
    this.csatSubmissions.push({ uuid, ...response });
  }

  async setConversationLabels(conversationId: number, labels: string[]) {
    await this.#call("setConversationLabels");
    this.labels.set(conversationId, [...labels]);
  }

  async setConversationPriority(conversationId: number, priority: string) {
    await this.#call("setConversationPriority");
    this.priorities.set(conversationId, priority);
  }

  async submitInteractiveAnswer(
    where: { conversationId: number; messageId: number },
    values: SubmittedValue[],
  ) {
    await this.#call("submitInteractiveAnswer");
    this.answers.push({ ...where, values });
  }

  async setContactEmail(contactId: number, email: string) {
    await this.#call("setContactEmail");
    this.emails.set(contactId, email);
  }
}
