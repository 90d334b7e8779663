/**
 * `cordwoot check-config`: validates the environment (done by the caller),
 * then checks every dependency for real and prints a checklist with the fix
 * for each failure. Exit code: 0 all good, 1 something to fix.
 */
import { createRestManager, DISCORD_API_URL } from "@discordeno/bot";
import { z } from "zod";
import { TICKET_COMMANDS } from "../bridge/commands.ts";
import type { Config } from "../config.ts";
import { toDiscordError } from "../discord/errors.ts";

export interface Check {
  ok: boolean;
  label: string;
  detail: string;
  fix?: string;
}

/** The webhook events cordwoot needs, and those it uses when present. */
export const REQUIRED_EVENTS = ["message_created"];
export const STATUS_EVENTS = ["conversation_updated", "conversation_status_changed"];
export const OPTIONAL_EVENTS = [
  "message_updated",
  "conversation_typing_on",
  "conversation_typing_off",
  "contact_updated",
];

const inboxSchema = z.object({
  id: z.number(),
  name: z.string(),
  channel_type: z.string(),
  webhook_url: z.string().nullish(),
  secret: z.string().nullish(),
});
const webhookSchema = z.object({
  id: z.number(),
  url: z.string(),
  subscriptions: z.array(z.string()).nullish(),
  secret: z.string().nullish(),
});
/** The index is `{payload: {webhooks: [...]}}` in Chatwoot; the swagger says a bare array. */
const webhooksSchema = z.union([
  z.array(webhookSchema),
  z.object({ payload: z.object({ webhooks: z.array(webhookSchema) }) }).transform((v) =>
    v.payload.webhooks
  ),
  z.object({ payload: z.array(webhookSchema) }).transform((v) => v.payload),
]);

export async function checkConfig(
  config: Config,
  options: { fetch?: typeof fetch; out?: (line: string) => void } = {},
): Promise<number> {
  const out = options.out ?? console.log;
  const checks = [
    ...await checkDiscord(config),
    ...await checkChatwoot(config, options.fetch ?? fetch),
  ];
  for (const c of checks) {
    out(`${c.ok ? "✔" : "✘"} ${c.label} — ${c.detail}`);
    if (!c.ok && c.fix) out(`    fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  out(`\n${checks.length - failed} checks passed, ${failed} failed`);
  return failed ? 1 : 0;
}

async function checkDiscord(config: Config): Promise<Check[]> {
  const rest = createRestManager({
    token: config.discordToken,
    applicationId: BigInt(config.discordApplicationId),
    ...(config.discordApiUrl !== DISCORD_API_URL
      ? { proxy: { baseUrl: config.discordApiUrl } }
      : {}),
  });
  const checks: Check[] = [];
  let app: { id: string; name: string; verifyKey?: string };
  try {
    app = await rest.getApplicationInfo();
  } catch (error) {
    const failure = toDiscordError(error, "application lookup");
    checks.push({
      ok: false,
      label: "Discord token",
      detail: failure.status === 401 ? "Discord refused the token (HTTP 401)" : failure.message,
      fix: failure.status === 401
        ? "Developer Portal > your application > Bot > Reset Token, then put it in DISCORD_TOKEN"
        : `check that ${config.discordApiUrl} can be reached from this machine`,
    });
    return checks;
  }
  checks.push({
    ok: true,
    label: "Discord token",
    detail: `accepted (application "${app.name}", ${app.id})`,
  });
  checks.push({
    ok: app.id === config.discordApplicationId,
    label: "Discord application id",
    detail: app.id === config.discordApplicationId
      ? "matches"
      : `the token belongs to application ${app.id}, DISCORD_CLIENT_ID says ${config.discordApplicationId}`,
    fix:
      "set DISCORD_CLIENT_ID to the Application ID shown under General Information (or leave it empty)",
  });
  checks.push({
    ok: true,
    label: "Gateway intents",
    detail: "Direct Messages and Direct Message Typing are not privileged: nothing to enable",
  });
  if (config.discordPublicKey) {
    const same = app.verifyKey?.toLowerCase() === config.discordPublicKey;
    checks.push({
      ok: same,
      label: "Interactions public key",
      detail: same
        ? "DISCORD_PUBLIC_KEY matches the application"
        : "DISCORD_PUBLIC_KEY is not this application's key",
      fix: "copy General Information > Public Key into DISCORD_PUBLIC_KEY",
    });
  }
  try {
    const registered = new Set((await rest.getGlobalApplicationCommands()).map((c) => c.name));
    const wanted = [config.ticketCommand, ...TICKET_COMMANDS.map((c) => c.name)];
    const missing = wanted.filter((n) => !registered.has(n));
    checks.push({
      ok: missing.length === 0,
      label: "Slash commands",
      detail: missing.length
        ? `not registered: /${missing.join(", /")}`
        : `registered: /${wanted.join(", /")}`,
      fix: "run `cordwoot register-commands` (or `deno task register-commands`)",
    });
  } catch (error) {
    checks.push({
      ok: false,
      label: "Slash commands",
      detail: toDiscordError(error, "command list").message,
      fix: "run `cordwoot register-commands` once the token works",
    });
  }
  return checks;
}

async function checkChatwoot(config: Config, doFetch: typeof fetch): Promise<Check[]> {
  const base = `${config.chatwootBaseUrl}/api/v1/accounts/${config.chatwootAccountId}`;
  const get = async (path: string) => {
    const res = await doFetch(`${base}${path}`, {
      headers: { api_access_token: config.chatwootApiToken, accept: "application/json" },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return {
      status: res.status,
      json: (() => {
        try {
          return JSON.parse(text);
        } catch {
          return undefined;
        }
      })(),
    };
  };
  const checks: Check[] = [];
  let inbox;
  try {
    inbox = await get(`/inboxes/${config.chatwootInboxId}`);
  } catch (error) {
    return [{
      ok: false,
      label: "Chatwoot reachable",
      detail: `cannot reach ${config.chatwootBaseUrl} (${
        error instanceof Error ? error.message : error
      })`,
      fix: "check CHATWOOT_BASE_URL and that this machine can reach it",
    }];
  }
  checks.push({ ok: true, label: "Chatwoot reachable", detail: config.chatwootBaseUrl });
  if (inbox.status === 401) {
    checks.push({
      ok: false,
      label: "Chatwoot token",
      detail: "Chatwoot refused the access token (HTTP 401)",
      fix:
        "copy Profile > Access Token of an agent or administrator (not an agent bot) into CHATWOOT_API_TOKEN, and check CHATWOOT_ACCOUNT_ID",
    });
    return checks;
  }
  checks.push({ ok: true, label: "Chatwoot token", detail: "accepted" });
  const parsed = inboxSchema.safeParse(inbox.json);
  if (inbox.status === 404 || !parsed.success) {
    checks.push({
      ok: false,
      label: "Chatwoot inbox",
      detail:
        `inbox ${config.chatwootInboxId} does not exist in account ${config.chatwootAccountId}`,
      fix:
        "set CHATWOOT_INBOX_ID to the id in Settings > Inboxes > your API inbox (the number in its URL)",
    });
    return checks;
  }
  const isApi = parsed.data.channel_type === "Channel::Api";
  checks.push({
    ok: isApi,
    label: "Chatwoot inbox",
    detail: isApi
      ? `"${parsed.data.name}" is an API inbox`
      : `"${parsed.data.name}" is a ${parsed.data.channel_type} inbox, not an API inbox`,
    fix:
      "create one under Settings > Inboxes > Add Inbox > API and put its id in CHATWOOT_INBOX_ID",
  });
  checks.push(await checkWebhook(config, parsed.data, get));
  return checks;
}

async function checkWebhook(
  config: Config,
  inbox: z.infer<typeof inboxSchema>,
  get: (path: string) => Promise<{ status: number; json: unknown }>,
): Promise<Check> {
  const target = config.publicUrl ? `${config.publicUrl}/webhook` : undefined;
  const isOurs = (url: string | null | undefined) =>
    !!url && (target ? url.replace(/\/+$/, "") === target : /\/webhook\/?$/.test(url));
  const where = target ?? `http(s)://<this server>:${config.webhookPort}/webhook`;
  const needed = `${REQUIRED_EVENTS.join(", ")}, ${STATUS_EVENTS[0]}`;
  const fix =
    `add a webhook in Chatwoot (Settings > Integrations > Webhooks) for ${where} with the events ${needed}, ${
      OPTIONAL_EVENTS.join(", ")
    }`;
  const listed = await get("/webhooks").catch(() => undefined);
  const webhooks = listed && listed.status === 200
    ? webhooksSchema.safeParse(listed.json)
    : undefined;
  const account = webhooks?.success ? webhooks.data.find((w) => isOurs(w.url)) : undefined;
  const secretCheck = (secret: string | null | undefined, name: string): Check | undefined => {
    if (!secret) return undefined;
    if (!config.webhookSecret) {
      return {
        ok: false,
        label: "Webhook secret",
        detail: `the ${name} signs its deliveries but WEBHOOK_SECRET is empty`,
        fix: `copy the ${name}'s secret into WEBHOOK_SECRET`,
      };
    }
    if (secret !== config.webhookSecret) {
      return {
        ok: false,
        label: "Webhook secret",
        detail:
          `WEBHOOK_SECRET does not match the ${name}'s secret: every delivery would be refused`,
        fix: `copy the ${name}'s secret into WEBHOOK_SECRET`,
      };
    }
    return undefined;
  };
  if (account) {
    const events = new Set(account.subscriptions ?? []);
    const missing = [
      ...REQUIRED_EVENTS.filter((e) => !events.has(e)),
      ...(STATUS_EVENTS.some((e) => events.has(e)) ? [] : [STATUS_EVENTS[0]]),
    ];
    if (missing.length) {
      return {
        ok: false,
        label: "Chatwoot webhook",
        detail: `${account.url} lacks the events ${missing.join(", ")}`,
        fix: `edit the webhook and tick ${missing.join(", ")}`,
      };
    }
    return secretCheck(account.secret, "account webhook") ??
      { ok: true, label: "Chatwoot webhook", detail: `${account.url} with the needed events` };
  }
  if (isOurs(inbox.webhook_url)) {
    // The API inbox's own callback receives every conversation and message event.
    return secretCheck(inbox.secret, "inbox") ??
      {
        ok: true,
        label: "Chatwoot webhook",
        detail: `the inbox's webhook URL ${inbox.webhook_url}`,
      };
  }
  return {
    ok: false,
    label: "Chatwoot webhook",
    detail: `no webhook points at ${where}`,
    fix,
  };
}
