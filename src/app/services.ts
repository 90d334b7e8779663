/**
 * The bridge's adapters and stores, built from the configuration: nothing
 * here connects or runs; the composition root (start_bridge.ts) starts them.
 */
import type { AttachmentMemory, Logger } from "../bridge/ports.ts";
import { createChatwootClient } from "../chatwoot/client.ts";
import type { Config } from "../config.ts";
import { createDiscordBot } from "../discord/gateway.ts";
import type { GatewayTimings } from "../discord/reconnect_policy.ts";
import type { RequestSchedulerSettings } from "../discord/request_scheduler.ts";
import { createDiscordRest } from "../discord/rest_port.ts";
import { Metrics } from "../http/metrics.ts";
import { createMemoryBudget } from "../jobs/memory_budget.ts";
import { configuredPlugins, createEnricher } from "../plugins/registry.ts";
import { createConversationStore } from "../store/conversations.ts";
import { createCsatStore } from "../store/csat.ts";
import { createInteractiveStore } from "../store/interactive.ts";
import { createTopicPickStore } from "../store/topic_picks.ts";
import { createAnswerWaits } from "../store/answer_waits.ts";
import { createFallbackThreads } from "../store/fallback_threads.ts";
import { createInboxSettingsCache } from "../store/inbox_settings.ts";
import { createMessageLinks } from "../store/links.ts";
import { createRecentActivity } from "../store/recent_activity.ts";
import { createSeenMarkers } from "../store/seen.ts";
import { createTicketStore } from "../store/tickets.ts";

export type Services = ReturnType<typeof buildServices>;

export function buildServices(
  config: Config,
  deps: {
    kv: Deno.Kv;
    log: Logger;
    fetch?: typeof fetch;
    gatewayTimings?: Partial<GatewayTimings>;
    discordRequestMs?: number;
    /** How long a contact plugin may take before the contact is created without it. */
    pluginTimeoutMs?: number;
    /** The Discord request scheduler's budget, ages and caps (tests shrink them). */
    discordRequests?: RequestSchedulerSettings;
    attachmentMemory?: AttachmentMemory;
    /** How long replies go to a fallback thread before a DM is tried again. */
    dmRetryMs?: number;
    /** Discord refused the bot for good (a bad token, disallowed intents). */
    onFatal(explanation: string): void;
  },
) {
  const { kv, log } = deps;
  const chatwoot = createChatwootClient({
    baseUrl: config.chatwootBaseUrl,
    accountId: config.chatwootAccountId,
    inboxId: config.chatwootInboxId,
    apiToken: config.chatwootApiToken,
    fetch: deps.fetch,
    attachmentOrigins: config.attachmentAllowedOrigins,
  });
  const discord = createDiscordBot({
    config,
    log,
    timings: deps.gatewayTimings,
    requestTimeoutMs: deps.discordRequestMs,
    onFatal: deps.onFatal,
  });
  const metrics = new Metrics();
  const discordRest = createDiscordRest(discord.bot, config.branding, deps.fetch, {
    downloads: { cdnOrigins: [new URL(config.discordCdnUrl).origin] },
    requests: deps.discordRequests,
    countDropped: (cls, reason) =>
      metrics.inc("cordwoot_discord_requests_dropped_total", { class: cls, reason }),
    log,
  });
  return {
    kv,
    chatwoot,
    discord,
    discordRest,
    tickets: createTicketStore(kv),
    links: createMessageLinks(kv),
    conversations: createConversationStore(kv),
    csat: createCsatStore(kv),
    interactive: createInteractiveStore(kv),
    topicPicks: createTopicPickStore(kv),
    answerWaits: createAnswerWaits(kv),
    fallback: config.fallbackChannelId
      ? {
        channelId: config.fallbackChannelId,
        threads: createFallbackThreads(kv, {
          retryMs: deps.dmRetryMs,
          recentWindowMs: config.reconcileWindowHours * 3600_000,
        }),
      }
      : undefined,
    seen: createSeenMarkers(kv, { reconcileWindowMs: config.reconcileWindowHours * 3600_000 }),
    recent: createRecentActivity(kv),
    inbox: createInboxSettingsCache({ kv, chatwoot, inboxId: config.chatwootInboxId, log }),
    enrich: createEnricher(
      configuredPlugins(config.plugins, deps.fetch),
      log,
      deps.pluginTimeoutMs,
    ),
    attachmentMemory: deps.attachmentMemory ?? createMemoryBudget(config.attachmentMemoryBytes),
    metrics,
  };
}
