/**
 * The bridge's HTTP surface: the webhook, Discord's interactions endpoint,
 * /healthz and /metrics wired to the use cases, and the server answering them.
 *
 * Contracts:
 * - `buildHttpSurface` makes the app (and its signature verifiers) without
 *   listening; `listenHttp` starts the server and logs where it listens.
 * - On Deno Deploy the platform holds the connections (Deno.serve); elsewhere
 *   serveHttp bounds them in time and in number. Addresses that delivered a
 *   signed request lately (the proven senders, shared by the app and the
 *   server) get capacity strangers cannot take.
 * - Closed by default: config.ts refuses a configuration without
 *   WEBHOOK_SECRET unless ALLOW_UNSIGNED_WEBHOOKS=true; such a start is
 *   warned about every time (`warnIfUnsigned`).
 */
import { applyContactChange } from "../bridge/contact_sync.ts";
import { describeError } from "../bridge/errors.ts";
import { isDeliveryId, type MessageEventOutcome } from "../bridge/intake.ts";
import type { Logger, MailboxPort } from "../bridge/ports.ts";
import { applyStatusEvent } from "../bridge/status_events.ts";
import type { ChatwootMessageEvent } from "../bridge/webhook_events.ts";
import { discordUserOf } from "../bridge/webhook_routing.ts";
import { createSignatureVerifier, parseWebhook } from "../chatwoot/webhook.ts";
import type { Config } from "../config.ts";
import { createInteractionVerifier } from "../discord/interaction_signature.ts";
import { handleInteraction, type InteractionDeps } from "../discord/interactions.ts";
import { createHttpApp } from "../http/app.ts";
import { createProvenSenders, type ProvenSenders } from "../http/proven_senders.ts";
import { type HttpServer, serveHttp } from "../http/server.ts";
import { VERSION } from "../version.ts";
import { healthGauges, healthReport, type HealthSources } from "./health_report.ts";
import type { Services } from "./services.ts";

export interface HttpSurface {
  app: ReturnType<typeof createHttpApp>;
  senders: ProvenSenders;
}

export async function buildHttpSurface(config: Config, deps: {
  log: Logger;
  services: Pick<Services, "tickets" | "conversations" | "seen" | "metrics">;
  mailbox: MailboxPort;
  nextSeq: () => bigint;
  scope: { inboxId: number; accountId: number };
  acceptAgentMessage(
    event: ChatwootMessageEvent,
    deliveryId?: string,
  ): Promise<MessageEventOutcome>;
  /** Shows or stops the bot typing in the user's DM (an agent types in Chatwoot). */
  agentTyping(userId: string, on: boolean): void;
  interactionDeps: InteractionDeps;
  healthSources: HealthSources;
}): Promise<HttpSurface> {
  const { log, mailbox, nextSeq, scope, interactionDeps, healthSources } = deps;
  const { tickets, conversations, seen, metrics } = deps.services;
  const verifySignature = config.webhookSecret
    ? await createSignatureVerifier(config.webhookSecret)
    : undefined;
  const interactionVerifier = config.discordPublicKey
    ? await createInteractionVerifier(config.discordPublicKey)
    : undefined;
  // Addresses that delivered a signed request lately: capacity strangers cannot take.
  const senders = createProvenSenders();
  const app = createHttpApp({
    log,
    senders,
    metricsToken: config.metricsToken,
    verifySignature,
    parseWebhook,
    acceptMessageEvent: deps.acceptAgentMessage,
    acceptContact: (contact) =>
      applyContactChange({ tickets, accountId: config.chatwootAccountId, log }, contact),
    acceptTyping: (event) => {
      const userId = discordUserOf(event);
      if (event.byAgent && event.inboxId === config.chatwootInboxId && userId) {
        deps.agentTyping(userId, event.on);
      }
    },
    acceptStatusEvent: (event) =>
      applyStatusEvent(
        { conversations, mailbox, texts: config.lifecycle, scope, nextSeq, log },
        event,
      ),
    countWebhook: (outcome) => metrics.inc("cordwoot_webhooks_total", { outcome }),
    firstDelivery: (deliveryId) =>
      isDeliveryId(deliveryId) ? seen.firstSeen("delivery", deliveryId) : Promise.resolve(true),
    metrics: async () => metrics.render(await healthGauges(healthSources)),
    interactions: interactionVerifier && {
      verify: interactionVerifier,
      firstDelivery: (id) => seen.firstSeen("interaction", id),
      handle: (raw, responded) => handleInteraction(interactionDeps, raw, responded),
    },
    health: () => healthReport(healthSources),
  });
  return { app, senders };
}

/** Starts answering on WEBHOOK_HOST:WEBHOOK_PORT. */
export async function listenHttp(
  config: Config,
  { app, senders }: HttpSurface,
  log: Logger,
): Promise<HttpServer> {
  // Deno Deploy's platform holds the connections; elsewhere server.ts bounds them in time.
  const server = config.onDeploy
    ? Deno.serve(
      { port: config.webhookPort, hostname: config.webhookHost, onListen: () => {} },
      app.fetch,
    )
    : await serveHttp({
      port: config.webhookPort,
      hostname: config.webhookHost,
      handler: app.fetch,
      senders,
      onError: (error) => log.error("request failed", { error: describeError(error) }),
    });
  log.info("http server listening", {
    host: config.webhookHost,
    port: server.addr.port,
    version: VERSION,
  });
  return server;
}

/** An unsigned webhook endpoint (ALLOW_UNSIGNED_WEBHOOKS=true) is warned about at every start. */
export function warnIfUnsigned(config: Config, log: Logger) {
  if (config.webhookSecret) return;
  log.warn(
    "WEBHOOK_SECRET is not set and ALLOW_UNSIGNED_WEBHOOKS=true: webhook deliveries are " +
      "accepted without a signature check (for local trials only)",
  );
}
