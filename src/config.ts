/**
 * The whole configuration surface of cordwoot: one zod schema over the
 * environment. Variable names and meanings follow the bot cordwoot replaces,
 * so an existing `.env` keeps working unchanged.
 *
 * Contract: `loadConfig(env)` never throws for bad input; it returns every
 * problem at once, each naming its variable and what is expected. Values of
 * secret variables never appear in a problem message.
 *
 * The kinds of value (flag, URL, colour, …) are built in config_fields.ts;
 * the loaded shape (`Config` and its parts) is declared in config_types.ts
 * and re-exported here.
 */
import { parseEnv } from "node:util";
import { z } from "zod";
import {
  blankAsUnset,
  booleanFlag,
  color,
  httpUrl,
  nonBlankText,
  positiveInt,
  required,
  text,
} from "./config_fields.ts";
import type { ConfigResult } from "./config_types.ts";
import { FEATURE_FIELDS } from "./config_features.ts";

export type {
  BrandingConfig,
  Config,
  ConfigResult,
  CsatConfig,
  LifecycleConfig,
  LogFormat,
  LogLevel,
  PluginConfig,
  PresenceConfig,
} from "./config_types.ts";

/** Variables whose values must never be echoed back. */
export const SECRET_VARIABLES = new Set([
  "DISCORD_TOKEN",
  "CHATWOOT_API_TOKEN",
  "WEBHOOK_SECRET",
  "DENO_KV_ACCESS_TOKEN",
  "SINGLTY_API_KEY",
  "CONTACT_LOOKUP_HEADER",
  "METRICS_TOKEN",
]);

const SNOWFLAKE = /^\d{17,20}$/;
const TOKEN_WHERE = "the bot token from Discord Developer Portal > Bot > Token";

const schema = z.object({
  ...FEATURE_FIELDS,
  // One problem per token, whichever applies first (an empty token is not also "not a token").
  DISCORD_TOKEN: z.string({ error: `is required: ${TOKEN_WHERE}` }).trim().superRefine((t, ctx) => {
    const problem = t === ""
      ? `is required: ${TOKEN_WHERE}`
      : /^bot\s/i.test(t)
      ? "starts with `Bot `: remove the `Bot ` prefix (the variable holds only the token itself)"
      : botIdFromToken(t) === undefined
      ? "is not a Discord bot token (expected three dot-separated parts, the first encoding the bot id)"
      : undefined;
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  DISCORD_CLIENT_ID: blankAsUnset(
    z.string().trim().regex(SNOWFLAKE, "expected the numeric application id (17-20 digits)")
      .optional(),
  ),
  DISCORD_API_URL: blankAsUnset(
    httpUrl("the Discord REST base, e.g. https://discord.com/api").optional(),
  ).transform((v) => v ?? "https://discord.com/api"),
  DISCORD_API_PROXY: booleanFlag(false),
  DISCORD_PUBLIC_KEY: blankAsUnset(
    z.string().trim().regex(/^[0-9a-fA-F]{64}$/, {
      error:
        "expected the 64 hex characters of Developer Portal > General Information > Public Key",
    }).optional(),
  ),
  DISCORD_GATEWAY: blankAsUnset(
    z.string().trim().toLowerCase().pipe(
      z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
        error: "expected true or false",
      }),
    ).transform((v) => ["true", "1", "yes", "on"].includes(v)).optional(),
  ),
  DENO_DEPLOYMENT_ID: blankAsUnset(z.string().optional()),
  TICKET_COMMAND: blankAsUnset(
    z.string().trim().regex(/^[-_a-z0-9]{1,32}$/, {
      error: "expected a command name: 1-32 lower-case letters, digits, - or _",
    }).optional(),
  ).transform((v) => v ?? "support"),
  CHATWOOT_BASE_URL: z.string({ error: "is required: e.g. https://app.chatwoot.com" })
    .pipe(httpUrl("e.g. https://app.chatwoot.com")),
  CHATWOOT_ACCOUNT_ID: z.string({ error: "is required: the numeric account id" })
    .pipe(positiveInt("the account id visible in the Chatwoot URL")),
  CHATWOOT_API_TOKEN: required("an agent or administrator access token (Profile > Access Token)"),
  CHATWOOT_INBOX_ID: z.string({ error: "is required: the numeric id of the API inbox" })
    .pipe(positiveInt("Settings > Inboxes > your API inbox > ID")),
  WEBHOOK_PORT: blankAsUnset(
    z.string().trim().regex(/^\d+$/, "expected a port number from 0 to 65535")
      .transform(Number).refine((n) => n <= 65535, "expected a port number from 0 to 65535")
      .optional(),
  ).transform((v) => v ?? 3000),
  WEBHOOK_HOST: blankAsUnset(z.string().trim().optional()).transform((v) => v ?? "0.0.0.0"),
  WEBHOOK_SECRET: blankAsUnset(z.string().trim().optional()),
  ALLOW_UNSIGNED_WEBHOOKS: booleanFlag(false),
  ATTACHMENT_ALLOWED_ORIGINS: blankAsUnset(z.string().trim().optional()).pipe(
    z.string().optional().transform((v, ctx) => {
      const origins: string[] = [];
      for (const part of (v ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
        try {
          const u = new URL(part);
          if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
          origins.push(u.origin);
        } catch {
          ctx.addIssue({
            code: "custom",
            message: "expected comma-separated http(s) origins, e.g. https://files.example.com",
          });
          return z.NEVER;
        }
      }
      return origins;
    }),
  ),
  ATTACHMENT_MEMORY_MB: blankAsUnset(
    z.string().trim().regex(/^\d+(\.\d+)?$/, "expected megabytes, e.g. 64").transform(Number)
      .refine((n) => n > 0, "expected megabytes, e.g. 64").optional(),
  ).transform((v) => v ?? 64),
  METRICS_TOKEN: blankAsUnset(z.string().trim().optional()),
  DEAD_LETTER_DAYS: blankAsUnset(
    positiveInt("days a dead letter is kept, e.g. 30").refine(
      (n) => n <= 3650,
      "at most 3650 (ten years): it becomes a database expiry",
    ).optional(),
  ).transform((v) => v ?? 30),
  HEALTH_MAX_ITEM_AGE_MINUTES: blankAsUnset(
    positiveInt("minutes an item may wait before /healthz reports degraded, e.g. 30").optional(),
  ).transform((v) => v ?? 30),
  PUBLIC_URL: blankAsUnset(
    httpUrl("this server's public address, e.g. https://support.example.com").optional(),
  ),
  KV_PATH: blankAsUnset(z.string().trim().optional()),
  DENO_KV_ACCESS_TOKEN: blankAsUnset(z.string().trim().optional()),
  CONFIRM_EMOJI: z.string().trim().optional().default("✅"),
  ALLOW_FROM: blankAsUnset(z.string().trim().optional()),
  DISCORD_CDN_URL: blankAsUnset(
    httpUrl("Discord's media CDN, e.g. https://media.discordapp.net").optional(),
  )
    .transform((v) => v ?? "https://media.discordapp.net"),
  CHATWOOT_MAX_UPLOAD_MB: blankAsUnset(
    z.string().trim().regex(/^\d+(\.\d+)?$/, "expected megabytes, e.g. 40").transform(Number)
      .refine((n) => n > 0, "expected megabytes, e.g. 40").optional(),
  ).transform((v) => v ?? 40),
  DISCORD_MAX_UPLOAD_MB: blankAsUnset(
    z.string().trim().regex(/^\d+(\.\d+)?$/, "expected megabytes, e.g. 10").transform(Number)
      .refine((n) => n > 0, "expected megabytes, e.g. 10").optional(),
  ).transform((v) => v ?? 10),
  LOG_LEVEL: blankAsUnset(
    z.string().trim().toLowerCase().pipe(
      z.enum(["debug", "info", "warn", "error"], { error: "expected debug, info, warn or error" }),
    ).optional(),
  ).transform((v) => v ?? "info"),
  LOG_FORMAT: blankAsUnset(
    z.string().trim().toLowerCase().pipe(
      z.enum(["json", "pretty"], { error: "expected json or pretty" }),
    ).optional(),
  ),

  RECONCILE_WINDOW_HOURS: blankAsUnset(
    z.string().trim().regex(/^\d+$/, "expected a whole number of hours").transform(Number)
      .refine((n) => n > 0, "expected a whole number of hours, at least 1")
      .refine((n) => n <= 8760, "at most 8760 (a year): it becomes a database expiry").optional(),
  ).transform((v) => v ?? 72),
  REOPEN_WINDOW_HOURS: blankAsUnset(
    z.string().trim().regex(/^\d+(\.\d+)?$/, "expected a number of hours, 0 or more").transform(
      Number,
    ).optional(),
  ).transform((v) => v ?? 0),
  OUTSIDE_HOURS_BEHAVIOR: booleanFlag(true),
  OUTSIDE_HOURS_FALLBACK_MESSAGE: nonBlankText("Our support team is currently offline."),
  GREETING_ENABLED: booleanFlag(true),
  GREETING_MESSAGE: nonBlankText(
    "Thanks for reaching out! A support agent will get back to you as soon as possible.",
  ),
  RESOLVED_MESSAGE: text("Your support ticket has been resolved. DM us again to reopen it."),
  SNOOZED_MESSAGE: text("Your ticket has been snoozed. We'll follow up with you soon."),
  PENDING_MESSAGE: text("Your ticket is queued and will be assigned to an agent shortly."),
  REOPENED_MESSAGE: text("Your ticket has been reopened by our team."),
  DELIVERY_DELAYED_MESSAGE: nonBlankText(
    "Our help desk cannot be reached right now. Your message is saved and will be delivered as soon as it is back.",
  ),

  BRAND_NAME: nonBlankText("Support"),
  BRAND_ICON_URL: blankAsUnset(httpUrl("a link to a small image").optional()),
  BRAND_FOOTER_TEXT: blankAsUnset(z.string().trim().optional()),
  COLOR_PRIMARY: color(0x7bb8f5),
  COLOR_SUCCESS: color(0x6fd8a0),
  COLOR_DANGER: color(0xf28b87),
  COLOR_WARNING: color(0xf5cf7b),
  COLOR_INFO: color(0xa89ef5),

  CSAT_ENABLED: booleanFlag(true),
  CSAT_QUESTION: nonBlankText("How would you rate your support experience?", 4000),
  CSAT_BUTTON_LABEL: nonBlankText("⭐ Rate us", 80),
  CSAT_COMMENT_ENABLED: booleanFlag(true),
  CSAT_COMMENT_PLACEHOLDER: nonBlankText("Any additional feedback? (optional)", 100),

  PRESENCE_POLL_INTERVAL_MS: blankAsUnset(
    z.string().trim().regex(/^\d+$/, "expected milliseconds, e.g. 300000").transform(Number)
      .refine((n) => n > 0, "expected milliseconds, e.g. 300000").optional(),
  ).transform((v) => v ?? 300_000),
  PRESENCE_ONLINE_TEXT: nonBlankText("DM to open a support ticket", 128),
  PRESENCE_OFFLINE_TEXT: nonBlankText("Support is currently offline", 128),

  SINGLTY_API_URL: blankAsUnset(
    httpUrl("the Singlty backend, e.g. https://api.singlty.com").optional(),
  ),
  SINGLTY_API_KEY: blankAsUnset(z.string().trim().optional()),
  CONTACT_LOOKUP_URL: blankAsUnset(
    httpUrl("a URL containing {discordId}").refine((u) => u.includes("{discordId}"), {
      error: "must contain {discordId} where the Discord user id goes",
    }).optional(),
  ),
  CONTACT_LOOKUP_HEADER: blankAsUnset(
    z.string().trim().regex(/^[A-Za-z0-9-]+:\s*\S.*$/, {
      error: 'expected "Header-Name: value"',
    }).optional(),
  ),
});

/** Every variable the schema reads (`.env.example` and the README list each one). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

/**
 * The one problem reported when no webhook secret is set: closed by default,
 * an unsigned webhook endpoint needs ALLOW_UNSIGNED_WEBHOOKS=true.
 */
export const WEBHOOK_SECRET_REQUIRED =
  "WEBHOOK_SECRET is required: copy the secret Chatwoot shows for this server's webhook " +
  "(Settings → Integrations → Webhooks → the webhook → its secret; Chatwoot 4.12+), or, when " +
  "Chatwoot calls the API inbox's own webhook URL instead, the inbox's secret (Chatwoot 4.13+). " +
  "Only for a local trial: ALLOW_UNSIGNED_WEBHOOKS=true starts without it and accepts unsigned webhooks";

/** The bot id Discord encodes (base64) in the first part of every bot token. */
export function botIdFromToken(token: string): string | undefined {
  const parts = token.trim().split(".");
  if (parts.length !== 3 || parts.some((p) => p === "")) return undefined;
  try {
    const id = atob(parts[0].replace(/-/g, "+").replace(/_/g, "/"));
    return SNOWFLAKE.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export function loadConfig(env: Record<string, string | undefined>): ConfigResult {
  const parsed = schema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "environment");
    return `${name} ${issue.message.replace(/^Invalid input: /, "")}`;
  });
  // Checked apart from the schema so that it is listed with every other problem.
  const secret = schema.shape.WEBHOOK_SECRET.safeParse(env.WEBHOOK_SECRET);
  const unsigned = schema.shape.ALLOW_UNSIGNED_WEBHOOKS.safeParse(env.ALLOW_UNSIGNED_WEBHOOKS);
  if (secret.success && secret.data === undefined && !(unsigned.success && unsigned.data)) {
    problems.push(WEBHOOK_SECRET_REQUIRED);
  }
  // Thread messages arrive only over the gateway (read alone: listed with every other problem).
  const fallback = schema.shape.FALLBACK_CHANNEL_ID.safeParse(env.FALLBACK_CHANNEL_ID);
  const gateway = schema.shape.DISCORD_GATEWAY.safeParse(env.DISCORD_GATEWAY);
  if (
    fallback.success && fallback.data && gateway.success &&
    !(gateway.data ?? env.DENO_DEPLOYMENT_ID === undefined)
  ) {
    problems.push(
      "FALLBACK_CHANNEL_ID needs the Discord gateway: what users write in their threads arrives " +
        "only over it (set DISCORD_GATEWAY=true, or leave FALLBACK_CHANNEL_ID blank; not on Deno Deploy)",
    );
  }
  if (!parsed.success || problems.length) return { ok: false, problems: [...new Set(problems)] };
  const e = parsed.data;
  const botId = botIdFromToken(e.DISCORD_TOKEN)!;
  return {
    ok: true,
    config: {
      discordToken: e.DISCORD_TOKEN,
      discordBotId: botId,
      discordApplicationId: e.DISCORD_CLIENT_ID ?? botId,
      discordApiUrl: e.DISCORD_API_URL,
      discordApiProxy: e.DISCORD_API_PROXY,
      discordPublicKey: e.DISCORD_PUBLIC_KEY?.toLowerCase(),
      // Deno Deploy keeps no long-lived connection: the gateway is off there unless forced on.
      discordGateway: e.DISCORD_GATEWAY ?? e.DENO_DEPLOYMENT_ID === undefined,
      ticketCommand: e.TICKET_COMMAND,
      chatwootBaseUrl: e.CHATWOOT_BASE_URL,
      chatwootAccountId: e.CHATWOOT_ACCOUNT_ID,
      chatwootApiToken: e.CHATWOOT_API_TOKEN,
      chatwootInboxId: e.CHATWOOT_INBOX_ID,
      webhookPort: e.WEBHOOK_PORT,
      webhookHost: e.WEBHOOK_HOST,
      webhookSecret: e.WEBHOOK_SECRET,
      allowUnsignedWebhooks: e.ALLOW_UNSIGNED_WEBHOOKS,
      attachmentAllowedOrigins: e.ATTACHMENT_ALLOWED_ORIGINS,
      attachmentMemoryBytes: Math.floor(e.ATTACHMENT_MEMORY_MB * 1024 * 1024),
      metricsToken: e.METRICS_TOKEN,
      deadLetterDays: e.DEAD_LETTER_DAYS,
      healthMaxItemAgeMs: e.HEALTH_MAX_ITEM_AGE_MINUTES * 60_000,
      publicUrl: e.PUBLIC_URL,
      // On Deno Deploy the default is the project's own database (Deno.openKv() without a path).
      kvPath: e.KV_PATH ?? (e.DENO_DEPLOYMENT_ID ? "" : "./data/cordwoot.kv"),
      kvAccessToken: e.DENO_KV_ACCESS_TOKEN,
      onDeploy: e.DENO_DEPLOYMENT_ID !== undefined,
      confirmEmoji: e.CONFIRM_EMOJI,
      fallbackChannelId: e.FALLBACK_CHANNEL_ID,
      allowFrom: e.ALLOW_FROM
        ? new Set(e.ALLOW_FROM.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean))
        : undefined,
      discordCdnUrl: e.DISCORD_CDN_URL,
      // Both count megabytes as MiB (Chatwoot's MAXIMUM_FILE_UPLOAD_SIZE uses Rails' `megabytes`).
      chatwootMaxUploadBytes: Math.floor(e.CHATWOOT_MAX_UPLOAD_MB * 1024 * 1024),

      discordMaxUploadBytes: Math.floor(e.DISCORD_MAX_UPLOAD_MB * 1024 * 1024),

      logLevel: e.LOG_LEVEL,
      logFormat: e.LOG_FORMAT,
      reconcileWindowHours: e.RECONCILE_WINDOW_HOURS,
      lifecycle: {
        reopenWindowHours: e.REOPEN_WINDOW_HOURS,
        outsideHoursAccept: e.OUTSIDE_HOURS_BEHAVIOR,
        outsideHoursFallbackMessage: e.OUTSIDE_HOURS_FALLBACK_MESSAGE,
        greetingEnabled: e.GREETING_ENABLED,
        greetingMessage: e.GREETING_MESSAGE,
        resolvedMessage: e.RESOLVED_MESSAGE.trim(),
        snoozedMessage: e.SNOOZED_MESSAGE.trim(),
        pendingMessage: e.PENDING_MESSAGE.trim(),
        reopenedMessage: e.REOPENED_MESSAGE.trim(),
        transcriptOnResolve: e.TRANSCRIPT_ON_RESOLVE,
        nudgeAfterMs: e.NUDGE_AFTER_HOURS === undefined
          ? undefined
          : Math.round(e.NUDGE_AFTER_HOURS * 3600_000),
        deliveryDelayedMessage: e.DELIVERY_DELAYED_MESSAGE,
      },
      branding: {
        name: e.BRAND_NAME,
        iconUrl: e.BRAND_ICON_URL,
        footerText: e.BRAND_FOOTER_TEXT ?? e.BRAND_NAME,
        colors: {
          primary: e.COLOR_PRIMARY,
          success: e.COLOR_SUCCESS,
          danger: e.COLOR_DANGER,
          warning: e.COLOR_WARNING,
          info: e.COLOR_INFO,
        },
      },
      csat: {
        enabled: e.CSAT_ENABLED,
        question: e.CSAT_QUESTION,
        buttonLabel: e.CSAT_BUTTON_LABEL,
        commentEnabled: e.CSAT_COMMENT_ENABLED,
        commentPlaceholder: e.CSAT_COMMENT_PLACEHOLDER,
      },
      topics: { list: e.TICKET_TOPICS, timeoutMs: e.TOPIC_TIMEOUT_MINUTES * 60_000 },
      presence: {
        pollIntervalMs: e.PRESENCE_POLL_INTERVAL_MS,
        onlineText: e.PRESENCE_ONLINE_TEXT,
        offlineText: e.PRESENCE_OFFLINE_TEXT,
      },
      plugins: {
        singlty: e.SINGLTY_API_URL && e.SINGLTY_API_KEY
          ? { apiUrl: e.SINGLTY_API_URL, apiKey: e.SINGLTY_API_KEY }
          : undefined,
        httpLookup: e.CONTACT_LOOKUP_URL
          ? { urlTemplate: e.CONTACT_LOOKUP_URL, header: parseHeader(e.CONTACT_LOOKUP_HEADER) }
          : undefined,
      },
    },
  };
}

function parseHeader(line: string | undefined): { name: string; value: string } | undefined {
  if (!line) return undefined;
  const at = line.indexOf(":");
  return { name: line.slice(0, at).trim(), value: line.slice(at + 1).trim() };
}

/**
 * Merges a `.env` file's text under the current environment: a variable that
 * is already set keeps its value (the process environment wins).
 */
export function mergeDotEnv(
  current: Record<string, string>,
  dotEnvText: string,
): Record<string, string> {
  const fromFile = parseEnv(dotEnvText) as Record<string, string>;
  return { ...fromFile, ...current };
}
