/**
 * Chatwoot webhook deliveries: signature check and parsing.
 *
 * Signature (Chatwoot 4.12+ account webhooks, 4.13+ API-inbox callbacks):
 * `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`
 * with `X-Chatwoot-Timestamp: <unix seconds>`. It is computed over the raw
 * bytes, so the body is verified before it is parsed.
 */
import type { ParsedWebhook } from "../bridge/webhook_events.ts";
import { z } from "zod";
import { readInteractiveContent } from "./interactive_content.ts";
import { fileNameOf } from "./message_json.ts";
import { hexToBytes } from "../hex.ts";
import { constantTimeEqual, type SignatureCheck } from "../signature_check.ts";

/** How far a delivery's timestamp may be from our clock, either way. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

const encoder = new TextEncoder();

/** Imports the secret once; the returned function checks one delivery. */
export async function createSignatureVerifier(secret: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return async (
    rawBody: string,
    headers: { signature: string | null; timestamp: string | null },
    nowSeconds = Math.floor(Date.now() / 1000),
  ): Promise<SignatureCheck> => {
    if (!headers.signature || !headers.timestamp) {
      return { ok: false, reason: "missing signature headers" };
    }
    if (!/^\d{1,12}$/.test(headers.timestamp)) return { ok: false, reason: "malformed timestamp" };
    const skew = Math.abs(nowSeconds - Number(headers.timestamp));
    if (skew > SIGNATURE_TOLERANCE_SECONDS) {
      return { ok: false, reason: `timestamp ${skew}s away from now` };
    }
    const match = /^sha256=([0-9a-fA-F]{64})$/.exec(headers.signature.trim());
    if (!match) return { ok: false, reason: "malformed signature" };
    const expected = new Uint8Array(
      await crypto.subtle.sign("HMAC", key, encoder.encode(`${headers.timestamp}.${rawBody}`)),
    );
    return constantTimeEqual(expected, hexToBytes(match[1]))
      ? { ok: true }
      : { ok: false, reason: "signature mismatch" };
  };
}

const attachmentSchema = z.object({
  data_url: z.string(),
  file_type: z.string().nullish(),
  extension: z.string().nullish(),
  content_type: z.string().nullish(),
  file_size: z.number().nullish(),
});

const messageEventSchema = z.object({
  event: z.enum(["message_created", "message_updated"]),
  id: z.number().int(),
  message_type: z.string(),
  private: z.boolean().nullish(),
  content: z.string().nullish(),
  content_type: z.string().nullish(),
  content_attributes: z.object({
    in_reply_to: z.number().nullish(),
    in_reply_to_external_id: z.string().nullish(),
    deleted: z.boolean().nullish(),
  }).nullish().catch(null),
  attachments: z.array(attachmentSchema).nullish(),
  inbox: z.object({ id: z.number().int() }),
  account: z.object({ id: z.number().int() }).nullish(),
  conversation: z.object({
    id: z.number().int(),
    contact_inbox: z.object({ source_id: z.string().nullish() }).nullish(),
    meta: z.object({
      sender: z.object({ identifier: z.string().nullish() }).nullish(),
    }).nullish(),
  }),
});

const conversationEventSchema = z.object({
  event: z.enum(["conversation_updated", "conversation_status_changed"]),
  id: z.number().int(),
  inbox_id: z.number().int(),
  status: z.string(),
  account: z.object({ id: z.number().int() }).nullish(),
  changed_attributes: z.array(z.record(z.string(), z.unknown())).nullish(),
  last_activity_at: z.number().nullish(),
  timestamp: z.number().nullish(),
  updated_at: z.number().nullish(),
  contact_inbox: z.object({ source_id: z.string().nullish() }).nullish(),
  meta: z.object({
    sender: z.object({ identifier: z.string().nullish() }).nullish(),
  }).nullish(),
});

const typingEventSchema = z.object({
  event: z.enum(["conversation_typing_on", "conversation_typing_off"]),
  is_private: z.boolean().nullish(),
  user: z.object({ type: z.string().nullish() }).nullish(),
  conversation: z.object({
    id: z.number().int(),
    inbox_id: z.number().int(),
    contact_inbox: z.object({ source_id: z.string().nullish() }).nullish(),
    meta: z.object({
      sender: z.object({ identifier: z.string().nullish() }).nullish(),
    }).nullish(),
  }),
});

const contactEventSchema = z.object({
  identifier: z.string().nullish(),
  blocked: z.boolean().nullish(),
  account: z.object({ id: z.number().int() }).nullish(),
});

const envelopeSchema = z.object({ event: z.string().min(1).max(100) });

/** Parses a verified body. Unknown event types are not an error: Chatwoot adds events over time. */
export function parseWebhook(rawBody: string): ParsedWebhook {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    return { kind: "invalid", reason: "body is not JSON" };
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) return { kind: "invalid", reason: "no event name" };
  const event = envelope.data.event;
  if (event === "conversation_updated" || event === "conversation_status_changed") {
    return parseConversationEvent(json);
  }
  if (event === "contact_updated" || event === "contact_created") {
    const parsed = contactEventSchema.safeParse(json);
    if (!parsed.success) return invalid(event, parsed.error);
    return {
      kind: "contact",
      contact: {
        identifier: parsed.data.identifier ?? null,
        blocked: parsed.data.blocked ?? false,
        accountId: parsed.data.account?.id,
      },
    };
  }
  if (event === "conversation_typing_on" || event === "conversation_typing_off") {
    return parseTypingEvent(json);
  }
  if (event !== "message_created" && event !== "message_updated") return { kind: "other", event };
  const parsed = messageEventSchema.safeParse(json);
  if (!parsed.success) return invalid(event, parsed.error);
  const e = parsed.data;
  return {
    kind: "message",
    message: {
      event: e.event,
      messageId: e.id,
      messageType: e.message_type,
      private: e.private ?? false,
      content: e.content ?? "",
      contentType: e.content_type ?? "text",
      inboxId: e.inbox.id,
      accountId: e.account?.id,
      conversationId: e.conversation.id,
      contactIdentifier: e.conversation.meta?.sender?.identifier ?? null,
      contactSourceId: e.conversation.contact_inbox?.source_id ?? null,
      inReplyTo: e.content_attributes?.in_reply_to ?? undefined,
      inReplyToExternalId: e.content_attributes?.in_reply_to_external_id ?? undefined,
      deleted: e.content_attributes?.deleted ?? false,
      interactive: readInteractiveContent(
        e.content_type ?? "text",
        (json as { content_attributes?: unknown }).content_attributes,
      ),
      attachments: (e.attachments ?? []).map((a) => ({
        url: a.data_url,
        name: fileNameOf(a.data_url, a.extension),
        contentType: a.content_type ?? "application/octet-stream",
        size: a.file_size ?? 0,
      })),
    },
  };
}

function parseTypingEvent(json: unknown): ParsedWebhook {
  const parsed = typingEventSchema.safeParse(json);
  if (!parsed.success) return invalid("typing event", parsed.error);
  const e = parsed.data;
  return {
    kind: "typing",
    typing: {
      on: e.event === "conversation_typing_on",
      conversationId: e.conversation.id,
      inboxId: e.conversation.inbox_id,
      // The contact's typing (via the client API) comes with a user that has no `type`.
      byAgent: !e.is_private && e.user?.type === "user",
      contactIdentifier: e.conversation.meta?.sender?.identifier ?? null,
      contactSourceId: e.conversation.contact_inbox?.source_id ?? null,
    },
  };
}

function invalid(event: string, error: z.ZodError): ParsedWebhook {
  const first = error.issues[0];
  return {
    kind: "invalid",
    reason: `${event}: ${first.path.join(".") || "body"}: ${first.message}`,
  };
}

function parseConversationEvent(json: unknown): ParsedWebhook {
  const parsed = conversationEventSchema.safeParse(json);
  if (!parsed.success) return invalid("conversation event", parsed.error);
  const e = parsed.data;
  return {
    kind: "conversation_status",
    conversation: {
      event: e.event,
      conversationId: e.id,
      inboxId: e.inbox_id,
      accountId: e.account?.id,
      status: e.status,
      // conversation_status_changed carries null here (Chatwoot reads it after save).
      statusChanged: e.event === "conversation_updated"
        ? (e.changed_attributes ?? []).some((change) => "status" in change)
        : undefined,
      contactIdentifier: e.meta?.sender?.identifier ?? null,
      contactSourceId: e.contact_inbox?.source_id ?? null,
      lastActivityAt: e.last_activity_at ?? e.timestamp ?? 0,
      updatedAt: e.updated_at ?? 0,
    },
  };
}
