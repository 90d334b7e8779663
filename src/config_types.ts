/**
 * The shape of cordwoot's configuration once loaded: what `loadConfig`
 * (config.ts) returns and every module reads. Types only; config.ts
 * re-exports them, so importers keep importing from config.ts.
 */

import type { Topic } from "./bridge/prompts.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "pretty";

export interface Config {
  discordToken: string;
  /** Application id: DISCORD_CLIENT_ID, else the bot id inside the token. */
  discordApplicationId: string;
  /** Bot user id, always read from the token. */
  discordBotId: string;
  /** REST base without a trailing slash, e.g. `https://discord.com/api`. */
  discordApiUrl: string;
  /** True when DISCORD_API_URL is a rate-limiting proxy: Discordeno's own limiter is then off. */
  discordApiProxy: boolean;
  /** Hex Ed25519 key from the Developer Portal: enables `POST /interactions`. */
  discordPublicKey: string | undefined;
  /** False: no gateway connection (Deno Deploy, or HTTP interactions only). */
  discordGateway: boolean;
  /** Name of the slash command that opens or continues a ticket without the gateway. */
  ticketCommand: string;
  chatwootBaseUrl: string;
  chatwootAccountId: number;
  chatwootApiToken: string;
  chatwootInboxId: number;
  webhookPort: number;
  webhookHost: string;
  webhookSecret: string | undefined;
  /** ALLOW_UNSIGNED_WEBHOOKS: without WEBHOOK_SECRET, accept unsigned webhooks (local trials only). */
  allowUnsignedWebhooks: boolean;
  /** Origins (besides CHATWOOT_BASE_URL's) agent attachments may be downloaded from, e.g. storage. */
  attachmentAllowedOrigins: string[];
  /** Global budget of attachment bytes held in memory at once (downloads and uploads in flight). */
  attachmentMemoryBytes: number;
  /** When set, `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>`. */
  metricsToken: string | undefined;
  /** Dead letters are kept this long (with their content), then expire. */
  deadLetterDays: number;
  /** /healthz reports degraded when an item has waited longer than this. */
  healthMaxItemAgeMs: number;
  /** This server's public base URL (check-config matches Chatwoot's webhook against it). */
  publicUrl: string | undefined;
  /** "" means the platform's default database (Deno Deploy). */
  kvPath: string;
  /** DENO_KV_ACCESS_TOKEN for a KV Connect KV_PATH (read from .env too, unlike Deno's own lookup). */
  kvAccessToken: string | undefined;
  /** Running on Deno Deploy: crons are registered at module top level, no gateway, no queues. */
  onDeploy: boolean;
  /** Empty string: no confirmation reaction. */
  confirmEmoji: string;
  /** FALLBACK_CHANNEL_ID: a server text channel for private threads when DMs are closed. */
  fallbackChannelId?: string;
  /** Discord user ids and usernames (lower case) allowed to open tickets; undefined = everyone. */
  allowFrom: Set<string> | undefined;
  /** Discord's media CDN (stickers), overridable like DISCORD_API_URL. */
  discordCdnUrl: string;
  /** Per-file upload limits, in bytes. */
  chatwootMaxUploadBytes: number;
  discordMaxUploadBytes: number;
  logLevel: LogLevel;
  /** Unset: pretty when standard error is a terminal, JSON otherwise. */
  logFormat: LogFormat | undefined;
  /** Agent messages in conversations active this recently are checked for missed webhooks. */
  reconcileWindowHours: number;
  lifecycle: LifecycleConfig;
  branding: BrandingConfig;
  csat: CsatConfig;
  /** TICKET_TOPICS (empty: no menu) and TOPIC_TIMEOUT_MINUTES. */
  topics: { list: Topic[]; timeoutMs: number };
  presence: PresenceConfig;
  plugins: PluginConfig;
}

/** User-facing texts and ticket rules. A notice text that is blank ("") is switched off. */
export interface LifecycleConfig {
  reopenWindowHours: number;
  /** true: accept DMs outside working hours (and say so); false: refuse them. */
  outsideHoursAccept: boolean;
  outsideHoursFallbackMessage: string;
  greetingEnabled: boolean;
  greetingMessage: string;
  resolvedMessage: string;
  snoozedMessage: string;
  pendingMessage: string;
  reopenedMessage: string;
  deliveryDelayedMessage: string;
  /** TRANSCRIPT_ON_RESOLVE: the resolved notice carries the conversation's transcript. */
  transcriptOnResolve: boolean;
  /** NUDGE_AFTER_HOURS (undefined: off): an unanswered agent reply's age before the check-in. */
  nudgeAfterMs?: number;
}

export interface BrandingConfig {
  name: string;
  iconUrl: string | undefined;
  footerText: string;
  colors: { primary: number; success: number; danger: number; warning: number; info: number };
}

export interface CsatConfig {
  enabled: boolean;
  question: string;
  buttonLabel: string;
  commentEnabled: boolean;
  commentPlaceholder: string;
}

export interface PresenceConfig {
  pollIntervalMs: number;
  onlineText: string;
  offlineText: string;
}

export interface PluginConfig {
  singlty: { apiUrl: string; apiKey: string } | undefined;
  /** Generic lookup: `{discordId}` in the URL is replaced by the user id. */
  httpLookup:
    | { urlTemplate: string; header: { name: string; value: string } | undefined }
    | undefined;
}

export type ConfigResult =
  | { ok: true; config: Config }
  | { ok: false; problems: string[] };
