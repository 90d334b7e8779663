/**
 * Typed Chatwoot Account API client for the calls the bridge makes.
 *
 * Every response crosses a zod parse that reads only the fields used, so a
 * Chatwoot upgrade that adds fields changes nothing. `fetch` is injected. The
 * access token travels only in the `api_access_token` header and never
 * appears in an error.
 */
import { z } from "zod";
import { ServiceError } from "../bridge/errors.ts";
import type {
  ChatwootContact,
  ChatwootConversation,
  ChatwootPort,
  NewContact,
} from "../bridge/ports.ts";
import {
  boundedDownload,
  DownloadNetworkError,
  type DownloadResult,
  downloadTimeoutMs,
  refusedOutcome,
} from "../net/bounded_download.ts";
import { AnswerTooLarge, readCappedText } from "../net/capped_answer.ts";

/**
 * How a failed exchange went, for a caller that explains it to an operator
 * (check-config tells "no answer" from "an answer that is not Chatwoot's").
 * `json` is the answer's body when it is JSON of at most 4 KiB (an error
 * body), else undefined; `contentType` is its media type, "" when absent.
 */
export type ChatwootFault =
  | { answered: false; timedOut: boolean; cause: unknown }
  | { answered: true; contentType: string; json: unknown };

export class ChatwootError extends ServiceError {
  readonly service = "chatwoot" as const;
  constructor(
    readonly status: number,
    /** The response body, cut to 500 characters; empty when no response came. */
    readonly body: string,
    what: string,
    /** Set by every API call (not by attachment downloads). */
    readonly fault?: ChatwootFault,
  ) {
    super(
      status === 0
        ? `Chatwoot ${what} failed: ${body}`
        : `Chatwoot ${what} failed with HTTP ${status}: ${body.slice(0, 200)}`,
    );
    this.name = "ChatwootError";
  }
}

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

/** The inbox's type and its own webhook callback (secret included): what check-config reads. */
export interface InboxSetup {
  id: number;
  name: string;
  channelType: string;
  webhookUrl: string | null;
  secret: string | null;
}

/** An account webhook (Settings > Integrations > Webhooks). */
export interface AccountWebhook {
  id: number;
  url: string;
  subscriptions: string[];
  secret: string | null;
}

/**
 * The calls check-config makes besides the bridge's port. They read webhook
 * secrets, so the bridge itself never makes them.
 */
export interface ChatwootSetupReader {
  readInboxSetup(): Promise<InboxSetup>;
  listAccountWebhooks(): Promise<AccountWebhook[]>;
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

const webhookSchema = z.object({
  id: z.number(),
  url: z.string(),
  subscriptions: z.array(z.string()).nullish(),
  secret: z.string().nullish(),
});

const MESSAGE_TYPES = ["incoming", "outgoing", "activity", "template"];

const messageSchema = z.object({
  id: z.number(),
  source_id: z.string().nullish(),
  message_type: z.union([z.number(), z.string()]).nullish(),
  private: z.boolean().nullish(),
  content: z.string().nullish(),
  content_type: z.string().nullish(),
  created_at: z.number().nullish(),
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
  inboxSetup: z.object({
    id: z.number(),
    name: z.string(),
    channel_type: z.string(),
    webhook_url: z.string().nullish(),
    secret: z.string().nullish(),
  }),
  /** Chatwoot answers `{payload: {webhooks: [...]}}`; the swagger says a bare array. */
  webhooks: z.union([
    z.array(webhookSchema),
    z.object({ payload: z.object({ webhooks: z.array(webhookSchema) }) }).transform((v) =>
      v.payload.webhooks
    ),
    z.object({ payload: z.array(webhookSchema) }).transform((v) => v.payload),
  ]),
};

/** An error body worth keeping for the operator: JSON, and small. */
function smallJson(text: string): unknown {
  if (text === "" || text.length > 4096) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function createChatwootClient(options: ChatwootClientOptions): ChatwootClient {
  const doFetch = options.fetch ?? fetch;
  const accountBase = `${options.baseUrl}/api/v1/accounts/${options.accountId}`;
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function call<T>(
    what: string,
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body?: unknown,
    base = accountBase,
  ): Promise<T> {
    let response: Response;
    let text: string;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: {
          ...(base === accountBase ? { "api_access_token": options.apiToken } : {}),
          "accept": "application/json",
          ...(body === undefined || body instanceof FormData
            ? {}
            : { "content-type": "application/json" }),
        },
        body: body === undefined
          ? undefined
          : body instanceof FormData
          ? body
          : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      // The signal bounds the whole exchange: a body that stalls is no answer either;
      // one that goes on past 4 MiB is not Chatwoot's, and is not read further.
      text = await readCappedText(response);
    } catch (error) {
      const timedOut = error instanceof DOMException &&
        (error.name === "TimeoutError" || error.name === "AbortError");
      const reason = error instanceof DOMException && error.name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : error instanceof AnswerTooLarge
        ? `no usable answer from ${options.baseUrl}: ${error.message}`
        : `cannot reach ${options.baseUrl} (${error instanceof Error ? error.message : error})`;
      throw new ChatwootError(0, reason, what, { answered: false, timedOut, cause: error });
    }
    const fault: ChatwootFault = {
      answered: true,
      contentType: (response.headers.get("content-type") ?? "").split(";")[0].trim(),
      json: smallJson(text),
    };
    if (!response.ok) {
      const error = new ChatwootError(response.status, text.slice(0, 500), what, fault);
      if (response.status === 429) {
        error.retryAfterMs = retryAfterMs(response.headers.get("retry-after"), Date.now());
      }
      throw error;
    }
    let json: unknown;
    try {
      json = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new ChatwootError(
        response.status,
        `response is not JSON: ${text.slice(0, 100)}`,
        what,
        fault,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ChatwootError(
        response.status,
        `unexpected response shape: ${z.prettifyError(parsed.error).slice(0, 300)}`,
        what,
        fault,
      );
    }
    return parsed.data;
  }

  return {
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
        { inbox_id: options.inboxId, contact_id: input.contactId, source_id: input.sourceId },
      );
      return { id: res.id };
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
      return res.payload.map((m) => ({
        id: m.id,
        sourceId: m.source_id ?? null,
        messageType: typeof m.message_type === "number"
          ? MESSAGE_TYPES[m.message_type] ?? "unknown"
          : m.message_type ?? "unknown",
        private: m.private ?? false,
        content: m.content ?? "",
        contentType: m.content_type ?? "text",
        createdAt: m.created_at ?? 0,
      })).sort((a, b) => a.id - b.id);
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

    async readInboxSetup() {
      const res = await call(
        "read inbox setup",
        "GET",
        `/inboxes/${options.inboxId}`,
        schemas.inboxSetup,
      );
      return {
        id: res.id,
        name: res.name,
        channelType: res.channel_type,
        webhookUrl: res.webhook_url ?? null,
        secret: res.secret ?? null,
      };
    },

    async listAccountWebhooks() {
      const res = await call("list account webhooks", "GET", "/webhooks", schemas.webhooks);
      return res.map((w) => ({
        id: w.id,
        url: w.url,
        subscriptions: w.subscriptions ?? [],
        secret: w.secret ?? null,
      }));
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

    async downloadAttachment(attachment, limits) {
      // No credentials travel with a download: `data_url` is public, and it may redirect.
      let result: DownloadResult;
      try {
        result = await boundedDownload(attachment.url, {
          allowedOrigins: [new URL(options.baseUrl).origin, ...(options.attachmentOrigins ?? [])],
          maxBytes: limits.maxBytes,
          timeoutMs: (options.downloadTimeoutMs ?? downloadTimeoutMs)(limits.maxBytes),
          fetch: doFetch,
        });
      } catch (error) {
        if (!(error instanceof DownloadNetworkError)) throw error;
        throw new ChatwootError(0, error.message, `download of ${attachment.name}`);
      }
      if (result.kind === "refused") return refusedOutcome(result);
      if (result.kind === "status") {
        throw new ChatwootError(result.status, "", `download of ${attachment.name}`);
      }
      return {
        file: {
          name: attachment.name,
          contentType: result.contentType ?? attachment.contentType,
          bytes: result.bytes,
        },
      };
    },

    async toggleContactTyping(inboxIdentifier, contactSourceId, conversationId, on) {
      await call(
        `show contact typing ${on ? "on" : "off"}`,
        "POST",
        `/public/api/v1/inboxes/${encodeURIComponent(inboxIdentifier)}/contacts/${
          encodeURIComponent(contactSourceId)
        }/conversations/${conversationId}/toggle_typing`,
        schemas.anything,
        { typing_status: on ? "on" : "off" },
        options.baseUrl,
      );
    },

    async submitCsat(uuid, response) {
      await call(
        "submit CSAT rating",
        "PUT",
        `/public/api/v1/csat_survey/${encodeURIComponent(uuid)}`,
        schemas.anything,
        {
          message: {
            submitted_values: {
              csat_survey_response: {
                rating: response.rating,
                feedback_message: response.feedback,
              },
            },
          },
        },
        options.baseUrl,
      );
    },
  };
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable (capped at an hour). */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header.trim());
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 3600_000) : undefined;
}
