/**
 * The HTTP surface: `POST /webhook` (Chatwoot events), `POST /interactions`,
 * `GET /healthz` and `GET /metrics`.
 *
 * The webhook answers as soon as the event is stored in a mailbox; delivery
 * to Discord happens after the response. Responses never carry stack traces.
 *
 * Closed by default: a request without its signature header is refused before
 * its body is read; bodies are read within the limits of bounded_body.ts; a
 * signed event gets the same answer whether or not it was for this bridge's
 * inbox and account, so answers reveal nothing to someone guessing ids.
 *
 * A correctly signed webhook or verified interaction proves its remote
 * address (`senders`, shared with server.ts): that address gets capacity
 * strangers cannot take. The address comes from the server as Deno.serve
 * gives it (`info.remoteAddr`, Hono's `c.env`).
 */
import type {
  AgentTypingEvent,
  ChatwootMessageEvent,
  ConversationStatusEvent,
  ParsedWebhook,
} from "../bridge/webhook_events.ts";
import { type Context, Hono } from "hono";
import type { MessageEventOutcome } from "../bridge/intake.ts";
import type { Logger } from "../bridge/ports.ts";
import type { StatusOutcome } from "../bridge/status_events.ts";

import { constantTimeEqual, type SignatureCheck } from "../signature_check.ts";
import { type BodyLimits, createBodyReader, DEFAULT_BODY_LIMITS } from "./bounded_body.ts";
import { createProvenSenders, type ProvenSenders } from "./proven_senders.ts";

/** What the server passes along with a request (Deno.ServeHandlerInfo, or server.ts's). */
type AppEnv = { Bindings: { remoteAddr?: { hostname: string } } | undefined };

export interface HealthReport {
  healthy: boolean;
  [field: string]: unknown;
}

export interface HttpDeps {
  log: Logger;
  /** Absent when WEBHOOK_SECRET is unset: deliveries are then accepted unsigned. */
  verifySignature?: (
    rawBody: string,
    headers: { signature: string | null; timestamp: string | null },
  ) => Promise<SignatureCheck>;
  /** Queues a message event; a delivery id already seen makes it a duplicate. */
  acceptMessageEvent(
    event: ChatwootMessageEvent,
    deliveryId?: string,
  ): Promise<MessageEventOutcome>;
  acceptStatusEvent(event: ConversationStatusEvent): Promise<StatusOutcome>;
  acceptTyping(event: AgentTypingEvent): void;
  /** Reads a verified webhook body (the Chatwoot adapter's parser). */
  parseWebhook(rawBody: string): ParsedWebhook;
  /** contact_created / contact_updated (account webhooks): keeps the blocked flag current. */
  acceptContact(
    contact: { identifier: string | null; blocked: boolean; accountId?: number },
  ): Promise<void>;
  health(): Promise<HealthReport>;
  /** Prometheus exposition text. */
  metrics(): Promise<string>;
  /** METRICS_TOKEN: when set, `/metrics` needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Bounds on request bodies (defaults in bounded_body.ts: 1 MiB, 10 s, 32 + 16 at once). */
  bodyLimits?: Partial<BodyLimits>;
  /** Addresses proven by signed requests; pass serveHttp the same one. */
  senders?: ProvenSenders;
  /** False when this `X-Chatwoot-Delivery` id was seen before (a replayed delivery). */
  firstDelivery(deliveryId: string): Promise<boolean>;
  countWebhook(outcome: string): void;
  /** Present when DISCORD_PUBLIC_KEY is set: Discord's HTTP interactions endpoint. */
  interactions?: {
    verify(
      rawBody: string,
      headers: { signature: string | null; timestamp: string | null },
    ): Promise<SignatureCheck>;
    /** False when this interaction id was seen before (Discord delivered it twice). */
    firstDelivery(interactionId: string): Promise<boolean>;
    /** Handles it; calls `responded` once Discord has the first response. */
    handle(raw: unknown, responded: () => void): Promise<void>;
  };
}

/** Discord wants an answer to an interaction within 3 s. */
const INTERACTION_ANSWER_MS = 2_500;

export function createHttpApp(deps: HttpDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const senders = deps.senders ?? createProvenSenders();
  const bodies = createBodyReader({ ...DEFAULT_BODY_LIMITS, ...deps.bodyLimits }, senders);
  /** The client's IP address ("unknown" when the server gave none). */
  const addressOf = (c: Context<AppEnv>) => c.env?.remoteAddr?.hostname ?? "unknown";
  /** The body within the limits, or the answer that refuses it (the connection is then closed). */
  const readBody = async (c: Context<AppEnv>) => {
    const read = await bodies.read(c.req.raw, addressOf(c));
    if (read.ok) return read.text;
    deps.log.warn("request body refused", { path: c.req.path, status: read.status });
    return c.json({ error: read.error }, read.status, read.headers);
  };

  app.post(
    "/webhook",
    async (c) => {
      const delivery = c.req.header("x-chatwoot-delivery") ?? null;
      const log = deps.log.child({ delivery });
      if (deps.verifySignature && !c.req.header("x-chatwoot-signature")) {
        deps.countWebhook("bad_signature");
        log.warn("webhook refused: bad signature", { reason: "no signature header" });
        return c.json({ error: "invalid signature" }, 401, { connection: "close" });
      }
      const raw = await readBody(c);
      if (typeof raw !== "string") return raw;
      if (deps.verifySignature) {
        const check = await deps.verifySignature(raw, {
          signature: c.req.header("x-chatwoot-signature") ?? null,
          timestamp: c.req.header("x-chatwoot-timestamp") ?? null,
        });
        if (!check.ok) {
          deps.countWebhook("bad_signature");
          log.warn("webhook refused: bad signature", { reason: check.reason });
          return c.json({ error: "invalid signature" }, 401);
        }
        senders.prove(addressOf(c));
      }
      const parsed = deps.parseWebhook(raw);
      if (parsed.kind === "invalid") {
        deps.countWebhook("malformed");
        log.warn("webhook refused: malformed payload", { reason: parsed.reason });
        return c.json({ error: "malformed payload", reason: parsed.reason }, 400);
      }
      // A message event's delivery id is checked in the same commit that queues it.
      // The delivery id is not signed: a captured request replayed under a new one is caught by
      // its signature, which covers the timestamp and the body (unsigned trials: the delivery id).
      // Hex is accepted in any case: the key is the digest as one spelling.
      const replayKey = c.req.header("x-chatwoot-signature")?.trim().toLowerCase() ?? delivery;
      if (parsed.kind !== "message" && replayKey && !(await deps.firstDelivery(replayKey))) {
        deps.countWebhook("replayed");
        log.info("replayed delivery ignored");
        return c.json(ACCEPTED);
      }
      deps.countWebhook(
        parsed.kind === "other"
          ? "ignored"
          : parsed.kind === "message"
          ? parsed.message.event ?? "message_created"
          : parsed.kind,
      );
      if (parsed.kind === "contact") {
        await deps.acceptContact(parsed.contact);
        return c.json(ACCEPTED);
      }
      if (parsed.kind === "typing") {
        deps.acceptTyping(parsed.typing);
        return c.json(ACCEPTED);
      }
      if (parsed.kind === "conversation_status") {
        const outcome = await deps.acceptStatusEvent(parsed.conversation);
        log.debug("conversation event", {
          event: parsed.conversation.event,
          conversationId: parsed.conversation.conversationId,
          outcome: outcome.status,
        });
        return c.json(ACCEPTED);
      }
      if (parsed.kind === "other") {
        log.debug("webhook event ignored", { event: parsed.event });
        return c.json(ACCEPTED);
      }
      const fields = {
        event: parsed.message.event,
        chatwootMessageId: parsed.message.messageId,
        conversationId: parsed.message.conversationId,
      };
      const outcome = await deps.acceptMessageEvent(parsed.message, delivery ?? undefined);
      if (outcome.status === "dropped") {
        log.debug("webhook message dropped", { ...fields, reason: outcome.reason });
      } else {
        log.info(outcome.status === "queued" ? "reply queued" : "duplicate webhook ignored", {
          ...fields,
          ...(outcome.status === "queued" ? { discordUserId: outcome.discordUserId } : {}),
        });
      }
      // Queued, duplicate or not for this inbox/account: one answer, so nothing is revealed.
      return c.json(ACCEPTED);
    },
  );

  app.post(
    "/interactions",
    async (c) => {
      const interactions = deps.interactions;
      if (!interactions) return c.json({ error: "not found" }, 404, { connection: "close" });
      if (!c.req.header("x-signature-ed25519") || !c.req.header("x-signature-timestamp")) {
        deps.log.warn("interaction refused: bad signature", { reason: "no signature headers" });
        return c.text("invalid request signature", 401, { connection: "close" });
      }
      const raw = await readBody(c);
      if (typeof raw !== "string") return raw;
      const check = await interactions.verify(raw, {
        signature: c.req.header("x-signature-ed25519") ?? null,
        timestamp: c.req.header("x-signature-timestamp") ?? null,
      });
      if (!check.ok) {
        deps.log.warn("interaction refused: bad signature", { reason: check.reason });
        return c.text("invalid request signature", 401);
      }
      senders.prove(addressOf(c));
      let body: { type?: unknown; id?: unknown };
      try {
        body = JSON.parse(raw);
      } catch {
        return c.json({ error: "malformed payload" }, 400);
      }
      if (body.type === 1) return c.json({ type: 1 }); // PING → PONG
      if (typeof body.id !== "string") return c.json({ error: "malformed payload" }, 400);
      if (!(await interactions.firstDelivery(body.id))) {
        deps.log.info("duplicate interaction ignored", { interactionId: body.id });
        return c.body(null, 202);
      }
      // The answer goes over REST (the same code as for gateway interactions); this POST
      // is answered with 202 once that first response is out, or before Discord gives up.
      const responded = Promise.withResolvers<void>();
      interactions.handle(body, () => responded.resolve())
        .catch((error) => deps.log.error("interaction failed", { error: String(error) }))
        .finally(() => responded.resolve());
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        responded.promise,
        new Promise((r) => timer = setTimeout(r, INTERACTION_ANSWER_MS)),
      ]);
      clearTimeout(timer);
      return c.body(null, 202);
    },
  );

  const health = async () => {
    const report = await deps.health();
    return Response.json(report, { status: report.healthy ? 200 : 503 });
  };
  app.get("/healthz", health);
  app.get("/health", health);
  const metricsToken = deps.metricsToken && new TextEncoder().encode(deps.metricsToken);
  app.get("/metrics", async (c) => {
    if (metricsToken) {
      const given = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
      if (!(await sameSecret(new TextEncoder().encode(given), metricsToken))) {
        return c.json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
      }
    }
    return new Response(await deps.metrics(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  });

  app.all("/webhook", (c) => c.json({ error: "method not allowed" }, 405, { allow: "POST" }));
  app.all("/interactions", (c) => c.json({ error: "method not allowed" }, 405, { allow: "POST" }));
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((error, c) => {
    deps.log.error("request failed", {
      path: c.req.path,
      error: error instanceof Error ? error.message : String(error),
    });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

/** The one answer to every signed, well-formed webhook event. */
const ACCEPTED = { ok: true } as const;

/** Compares digests, so neither the length nor the first differing byte shows in the timing. */
async function sameSecret(given: Uint8Array, expected: Uint8Array): Promise<boolean> {
  const [a, b] = await Promise.all(
    [given, expected].map(async (v) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", v as Uint8Array<ArrayBuffer>))
    ),
  );
  return constantTimeEqual(a, b);
}
