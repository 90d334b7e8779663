/**
 * The HTTP surface: `POST /webhook` (Chatwoot events) and `GET /healthz`.
 *
 * The webhook answers as soon as the event is stored in a mailbox; delivery
 * to Discord happens after the response. Responses never carry stack traces.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { MessageEventOutcome } from "../bridge/intake.ts";
import type { Logger } from "../bridge/ports.ts";
import type { ConversationStatusEvent, StatusOutcome } from "../bridge/status_events.ts";
import type { ChatwootMessageEvent } from "../bridge/webhook_routing.ts";
import { type AgentTypingEvent, parseWebhook, type SignatureCheck } from "../chatwoot/webhook.ts";

export const WEBHOOK_BODY_LIMIT_BYTES = 1024 * 1024;

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
  /** contact_created / contact_updated (account webhooks): keeps the blocked flag current. */
  acceptContact(
    contact: { identifier: string | null; blocked: boolean; accountId?: number },
  ): Promise<void>;
  health(): Promise<HealthReport>;
  /** Prometheus exposition text. */
  metrics(): Promise<string>;
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

export function createHttpApp(deps: HttpDeps): Hono {
  const app = new Hono();

  app.post(
    "/webhook",
    bodyLimit({
      maxSize: WEBHOOK_BODY_LIMIT_BYTES,
      onError: (c) => c.json({ error: "payload too large" }, 413),
    }),
    async (c) => {
      const delivery = c.req.header("x-chatwoot-delivery") ?? null;
      const log = deps.log.child({ delivery });
      const raw = await c.req.text();
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
      }
      const parsed = parseWebhook(raw);
      if (parsed.kind === "invalid") {
        deps.countWebhook("malformed");
        log.warn("webhook refused: malformed payload", { reason: parsed.reason });
        return c.json({ error: "malformed payload", reason: parsed.reason }, 400);
      }
      // A message event's delivery id is checked in the same commit that queues it.
      if (parsed.kind !== "message" && delivery && !(await deps.firstDelivery(delivery))) {
        deps.countWebhook("replayed");
        log.info("replayed delivery ignored");
        return c.json({ ok: true, outcome: "duplicate" });
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
        return c.json({ ok: true });
      }
      if (parsed.kind === "typing") {
        deps.acceptTyping(parsed.typing);
        return c.json({ ok: true });
      }
      if (parsed.kind === "conversation_status") {
        const outcome = await deps.acceptStatusEvent(parsed.conversation);
        log.debug("conversation event", {
          event: parsed.conversation.event,
          conversationId: parsed.conversation.conversationId,
          outcome: outcome.status,
        });
        return c.json({ ok: true, outcome: outcome.status });
      }
      if (parsed.kind === "other") {
        log.debug("webhook event ignored", { event: parsed.event });
        return c.json({ ok: true, ignored: parsed.event });
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
      return c.json({ ok: true, outcome: outcome.status });
    },
  );

  app.post(
    "/interactions",
    bodyLimit({
      maxSize: WEBHOOK_BODY_LIMIT_BYTES,
      onError: (c) => c.json({ error: "payload too large" }, 413),
    }),
    async (c) => {
      const interactions = deps.interactions;
      if (!interactions) return c.json({ error: "not found" }, 404);
      const raw = await c.req.text();
      const check = await interactions.verify(raw, {
        signature: c.req.header("x-signature-ed25519") ?? null,
        timestamp: c.req.header("x-signature-timestamp") ?? null,
      });
      if (!check.ok) {
        deps.log.warn("interaction refused: bad signature", { reason: check.reason });
        return c.text("invalid request signature", 401);
      }
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
  app.get("/metrics", async () =>
    new Response(await deps.metrics(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    }));

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
