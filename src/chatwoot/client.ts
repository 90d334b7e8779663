/**
 * Typed Chatwoot Account API client for the calls the bridge makes.
 *
 * Every response crosses a zod parse that reads only the fields used, so a
 * Chatwoot upgrade that adds fields changes nothing. `fetch` is injected. The
 * access token travels only in the `api_access_token` header and never
 * appears in an error.
 *
 * The exchange itself (timeout, capped answer, ChatwootError) is api_call.ts;
 * attachment downloads are attachments.ts; the calls only check-config makes
 * are setup_reader.ts.
 */
import { z } from "zod";
import type {
  ChatwootContact,
  ChatwootConversation,
  ChatwootPort,
  NewContact,
} from "../bridge/ports.ts";
import { createApiCall } from "./api_call.ts";
import { createClientApi } from "./client_api.ts";
import { messageSchema, readMessage } from "./message_json.ts";
import { createAttachmentDownloader } from "./attachments.ts";
import { type ChatwootSetupReader, createSetupReader } from "./setup_reader.ts";

export interface ChatwootClientOptions {
  baseUrl: string;
  accountId: number;
  inboxId: number;
  apiToken: string;
  fetch?: typeof fetch;
  /** Per-request limit; a stalled Chatwoot must not hold a mailbox forever. */
  timeoutMs?: number;
  /**
   * Origins besides `baseUrl`'s that agent attachments may be downloaded from
   * (the storage Chatwoot redirects to: ATTACHMENT_ALLOWED_ORIGINS).
   */
  attachmentOrigins?: readonly string[];
  /** Time allowed for a download of this many bytes (default: downloadTimeoutMs). */
  downloadTimeoutMs?: (bytes: number) => number;
}

export type ChatwootClient = ChatwootPort & ChatwootSetupReader;

const contactInboxSchema = z.object({
  source_id: z.string().nullish(),
  inbox: z.object({ id: z.number() }).nullish(),
});

const contactSchema = z.object({
  id: z.number(),
  identifier: z.string().nullish(),
  blocked: z.boolean().nullish(),
  contact_inboxes: z.array(contactInboxSchema).nullish(),
});

const conversationSchema = z.object({
  id: z.number(),
  inbox_id: z.number(),
  status: z.string(),
  last_activity_at: z.number().nullish(),
  timestamp: z.number().nullish(),
});

const schemas = {
  createContact: z.object({
    payload: z.object({
      contact: z.object({ id: z.number() }),
      contact_inbox: z.object({ source_id: z.string().nullish() }).nullish(),
    }),
  }),
  search: z.object({ payload: z.array(contactSchema) }),
  contactInbox: z.object({ source_id: z.string() }),
  conversations: z.object({ payload: z.array(conversationSchema) }),
  conversation: z.object({ id: z.number() }),
  message: z.object({ id: z.number() }),
  messages: z.object({ payload: z.array(messageSchema) }),
  inbox: z.object({
    id: z.number(),
    name: z.string(),
    channel_type: z.string(),
    greeting_enabled: z.boolean().nullish(),
    greeting_message: z.string().nullish(),
    working_hours_enabled: z.boolean().nullish(),
    working_hours: z.array(z.object({
      day_of_week: z.number(),
      closed_all_day: z.boolean().nullish(),
      open_all_day: z.boolean().nullish(),
      open_hour: z.number().nullish(),
      open_minutes: z.number().nullish(),
      close_hour: z.number().nullish(),
      close_minutes: z.number().nullish(),
    })).nullish(),
    timezone: z.string().nullish(),
    out_of_office_message: z.string().nullish(),
    csat_survey_enabled: z.boolean().nullish(),
    lock_to_single_conversation: z.boolean().nullish(),
    inbox_identifier: z.string().nullish(),
  }),
  conversationDetails: z.object({
    id: z.number(),
    inbox_id: z.number(),
    status: z.string(),
    last_activity_at: z.number().nullish(),
    timestamp: z.number().nullish(),
    uuid: z.string().nullish(),
  }),
  anything: z.unknown(),
};

export function createChatwootClient(options: ChatwootClientOptions): ChatwootClient {
  const doFetch = options.fetch ?? fetch;
  const call = createApiCall({ ...options, fetch: doFetch });

  return {
    ...createSetupReader(call, options.inboxId),
    ...createClientApi(call, options.baseUrl),
    downloadAttachment: createAttachmentDownloader({
      baseUrl: options.baseUrl,
      attachmentOrigins: options.attachmentOrigins,
      downloadTimeoutMs: options.downloadTimeoutMs,
      fetch: doFetch,
    }),

    async createContact(contact: NewContact) {
      const res = await call("create contact", "POST", "/contacts", schemas.createContact, {
        name: contact.name,
        identifier: contact.identifier,
        email: contact.email,
        avatar_url: contact.avatarUrl,
        custom_attributes: contact.customAttributes,
        inbox_id: options.inboxId,
        source_id: contact.sourceId,
      });
      return {
        contactId: res.payload.contact.id,
        sourceId: res.payload.contact_inbox?.source_id ?? null,
      };
    },

    async searchContacts(query: string): Promise<ChatwootContact[]> {
      const q = new URLSearchParams({ q: query, include_contact_inboxes: "true" });
      const res = await call("search contacts", "GET", `/contacts/search?${q}`, schemas.search);
      return res.payload.map((c) => ({
        id: c.id,
        identifier: c.identifier ?? null,
        blocked: c.blocked ?? false,
        contactInboxes: (c.contact_inboxes ?? []).flatMap((ci) =>
          ci.inbox && ci.source_id ? [{ inboxId: ci.inbox.id, sourceId: ci.source_id }] : []
        ),
      }));
    },

    async createContactInbox(contactId: number, sourceId: string) {
      const res = await call(
        "link contact to inbox",
        "POST",
        `/contacts/${contactId}/contact_inboxes`,
        schemas.contactInbox,
        { inbox_id: options.inboxId, source_id: sourceId },
      );
      return { sourceId: res.source_id };
    },

    async listContactConversations(contactId: number): Promise<ChatwootConversation[]> {
      const res = await call(
        "list contact conversations",
        "GET",
        `/contacts/${contactId}/conversations`,
        schemas.conversations,
      );
      return res.payload.map((c) => ({
        id: c.id,
        inboxId: c.inbox_id,
        status: c.status,
        lastActivityAt: c.last_activity_at ?? c.timestamp ?? 0,
      }));
    },

    async createConversation(input) {
      const res = await call(
        "create conversation",
        "POST",
        "/conversations",
        schemas.conversation,
        {
          inbox_id: options.inboxId,
          contact_id: input.contactId,
          source_id: input.sourceId,
          ...(input.teamId !== undefined ? { team_id: input.teamId } : {}),
          ...(input.customAttributes ? { custom_attributes: input.customAttributes } : {}),
        },
      );
      return { id: res.id };
    },

    async setContactEmail(contactId, email) {
      await call("set contact email", "PUT", `/contacts/${contactId}`, schemas.anything, { email });
    },

    async setConversationLabels(conversationId, labels) {
      await call(
        "set conversation labels",
        "POST",
        `/conversations/${conversationId}/labels`,
        schemas.anything,
        { labels },
      );
    },

    async setConversationPriority(conversationId, priority) {
      await call(
        "set conversation priority",
        "POST",
        `/conversations/${conversationId}/toggle_priority`,
        schemas.anything,
        { priority },
      );
    },

    async createIncomingMessage(conversationId, message) {
      const contentAttributes = {
        ...(message.inReplyTo !== undefined ? { in_reply_to: message.inReplyTo } : {}),
        ...(message.inReplyToExternalId
          ? { in_reply_to_external_id: message.inReplyToExternalId }
          : {}),
      };
      const fields = {
        content: message.content,
        message_type: "incoming",
        private: false,
        source_id: message.sourceId,
        ...(Object.keys(contentAttributes).length ? { content_attributes: contentAttributes } : {}),
      };
      let body: unknown = fields;
      if (message.files?.length) {
        // Files go as multipart `attachments[]` on the same message.
        const form = new FormData();
        for (const [k, v] of Object.entries(fields)) {
          form.append(
            k,
            typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v),
          );
        }
        for (const f of message.files) {
          form.append("attachments[]", new Blob([f.bytes], { type: f.contentType }), f.name);
        }
        body = form;
      }
      const res = await call(
        "post message",
        "POST",
        `/conversations/${conversationId}/messages`,
        schemas.message,
        body,
      );
      return { id: res.id };
    },

    async listMessages(conversationId) {
      const res = await call(
        "list messages",
        "GET",
        `/conversations/${conversationId}/messages`,
        schemas.messages,
      );
      return res.payload.map(readMessage).sort((a, b) => a.id - b.id);
    },

    async listMessagesAfter(conversationId, afterId) {
      const res = await call(
        "list messages",
        "GET",
        `/conversations/${conversationId}/messages?after=${afterId}`,
        schemas.messages,
      );
      return res.payload.map(readMessage).sort((a, b) => a.id - b.id);
    },

    async updateMessageStatus(conversationId, messageId, status, externalError) {
      await call(
        `mark message ${messageId} ${status}`,
        "PATCH",
        `/conversations/${conversationId}/messages/${messageId}`,
        schemas.anything,
        { status, ...(externalError ? { external_error: externalError } : {}) },
      );
    },

    async getInbox() {
      const res = await call("read inbox", "GET", `/inboxes/${options.inboxId}`, schemas.inbox);
      return {
        id: res.id,
        name: res.name,
        channelType: res.channel_type,
        greetingEnabled: res.greeting_enabled ?? false,
        greetingMessage: res.greeting_message ?? "",
        workingHoursEnabled: res.working_hours_enabled ?? false,
        workingHours: (res.working_hours ?? []).map((d) => ({
          dayOfWeek: d.day_of_week,
          closedAllDay: d.closed_all_day ?? false,
          openAllDay: d.open_all_day ?? false,
          openHour: d.open_hour ?? null,
          openMinutes: d.open_minutes ?? null,
          closeHour: d.close_hour ?? null,
          closeMinutes: d.close_minutes ?? null,
        })),
        timeZone: res.timezone || "UTC",
        outOfOfficeMessage: res.out_of_office_message ?? "",
        csatSurveyEnabled: res.csat_survey_enabled ?? false,
        lockToSingleConversation: res.lock_to_single_conversation ?? false,
        inboxIdentifier: res.inbox_identifier ?? "",
      };
    },

    async getConversation(conversationId) {
      const c = await call(
        "read conversation",
        "GET",
        `/conversations/${conversationId}`,
        schemas.conversationDetails,
      );
      return {
        id: c.id,
        inboxId: c.inbox_id,
        status: c.status,
        lastActivityAt: c.last_activity_at ?? c.timestamp ?? 0,
        uuid: c.uuid ?? null,
      };
    },

    async toggleStatus(conversationId, status) {
      await call(
        `set conversation status to ${status}`,
        "POST",
        `/conversations/${conversationId}/toggle_status`,
        schemas.anything,
        { status },
      );
    },

    async createPrivateNote(conversationId, content) {
      const res = await call(
        "post private note",
        "POST",
        `/conversations/${conversationId}/messages`,
        schemas.message,
        { content, message_type: "outgoing", private: true },
      );
      return { id: res.id };
    },
  };
}
