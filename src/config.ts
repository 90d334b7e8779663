/**
 * The whole configuration surface of cordwoot: one zod schema over the
 * environment. Variable names and meanings follow the bot cordwoot replaces,
 * so an existing `.env` keeps working unchanged.
 *
 * Contract: `loadConfig(env)` never throws for bad input; it returns every
 * problem at once, each naming its variable and what is expected. Values of
 * secret variables never appear in a problem message.
 */
import { parseEnv } from "node:util";
import { z } from "zod";

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
  chatwootBaseUrl: string;
  chatwootAccountId: number;
  chatwootApiToken: string;
  chatwootInboxId: number;
  webhookPort: number;
  webhookHost: string;
  webhookSecret: string | undefined;
  kvPath: string;
  /** Empty string: no confirmation reaction. */
  confirmEmoji: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

export type ConfigResult =
  | { ok: true; config: Config }
  | { ok: false; problems: string[] };

/** Variables whose values must never be echoed back. */
export const SECRET_VARIABLES = new Set([
  "DISCORD_TOKEN",
  "CHATWOOT_API_TOKEN",
  "WEBHOOK_SECRET",
  "DENO_KV_ACCESS_TOKEN",
]);

const SNOWFLAKE = /^\d{17,20}$/;

/**
 * Blank values count as unset, as in the seed's `.env.example`. The schema
 * passed in decides what unset means (`.optional()` or `.default(…)`).
 */
const blankAsUnset = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema);

const required = (what: string) =>
  z.string({ error: `is required: ${what}` }).trim().min(1, `is required: ${what}`);

const booleanFlag = (fallback: boolean) =>
  blankAsUnset(
    z.string().trim().toLowerCase().pipe(
      z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
        error: "expected true or false",
      }),
    ).transform((v) => ["true", "1", "yes", "on"].includes(v)).optional(),
  ).transform((v) => v ?? fallback);

const httpUrl = (what: string) =>
  z.string().trim().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }, `expected an http(s) URL (${what})`).transform((v) => v.replace(/\/+$/, ""));

const positiveInt = (what: string) =>
  z.string().trim().regex(/^\d+$/, `expected a positive whole number (${what})`)
    .transform(Number).refine((n) => n > 0, `expected a positive whole number (${what})`);

const schema = z.object({
  DISCORD_TOKEN: required("the bot token from Discord Developer Portal > Bot > Token")
    .refine((t) => botIdFromToken(t) !== undefined, {
      error:
        "is not a Discord bot token (expected three dot-separated parts, the first encoding the bot id)",
    }),
  DISCORD_CLIENT_ID: blankAsUnset(
    z.string().trim().regex(SNOWFLAKE, "expected the numeric application id (17-20 digits)")
      .optional(),
  ),
  DISCORD_API_URL: blankAsUnset(
    httpUrl("the Discord REST base, e.g. https://discord.com/api").optional(),
  ).transform((v) => v ?? "https://discord.com/api"),
  DISCORD_API_PROXY: booleanFlag(false),
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
  KV_PATH: blankAsUnset(z.string().trim().optional()).transform((v) => v ?? "./data/cordwoot.kv"),
  CONFIRM_EMOJI: z.string().trim().optional().default("✅"),
  LOG_LEVEL: blankAsUnset(
    z.string().trim().toLowerCase().pipe(
      z.enum(["debug", "info", "warn", "error"], { error: "expected debug, info, warn or error" }),
    ).optional(),
  ).transform((v) => v ?? "info"),
  LOG_FORMAT: blankAsUnset(
    z.string().trim().toLowerCase().pipe(
      z.enum(["json", "pretty"], { error: "expected json or pretty" }),
    ).optional(),
  ).transform((v) => v ?? "json"),
});

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
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "environment");
      return `${name} ${issue.message.replace(/^Invalid input: /, "")}`;
    });
    return { ok: false, problems: [...new Set(problems)] };
  }
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
      chatwootBaseUrl: e.CHATWOOT_BASE_URL,
      chatwootAccountId: e.CHATWOOT_ACCOUNT_ID,
      chatwootApiToken: e.CHATWOOT_API_TOKEN,
      chatwootInboxId: e.CHATWOOT_INBOX_ID,
      webhookPort: e.WEBHOOK_PORT,
      webhookHost: e.WEBHOOK_HOST,
      webhookSecret: e.WEBHOOK_SECRET,
      kvPath: e.KV_PATH,
      confirmEmoji: e.CONFIRM_EMOJI,
      logLevel: e.LOG_LEVEL,
      logFormat: e.LOG_FORMAT,
    },
  };
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
