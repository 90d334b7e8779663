/**
 * `cordwoot check-config`: validates the environment (done by the caller),
 * then checks every dependency for real and prints a checklist with the fix
 * for each failure. Exit code: 0 all good, 1 something to fix.
 *
 * Contract: it always ends, within about `timeoutMs` per check; a check passes
 * only on an answer of the expected shape (a server answering 404 to
 * everything is not "Chatwoot"); each cause is one clean line (never a stack
 * trace or a response body beyond the service's own short error text), and
 * secret values are never printed.
 */
import { z } from "zod";
import denoJson from "../../deno.json" with { type: "json" };
import { TICKET_COMMANDS } from "../bridge/commands.ts";
import {
  type AccountWebhook,
  ChatwootError,
  createChatwootClient,
  type InboxSetup,
} from "../chatwoot/client.ts";
import type { Config } from "../config.ts";
import { bindFailure, shortCause, StartupFailure } from "../startup_failure.ts";
import { readCappedText } from "../net/capped_answer.ts";
import { isKvConnectUrl, openKv } from "../store/open_kv.ts";

export interface Check {
  ok: boolean;
  label: string;
  detail: string;
  fix?: string;
}

export interface CheckOptions {
  fetch?: typeof fetch;
  out?: (line: string) => void;
  /** The longest any one check may take (a request, opening KV); 10 s by default. */
  timeoutMs?: number;
  /** Whether `.env` was found in the working directory (a note is printed when it was not). */
  dotEnv?: { found: boolean; directory: string };
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

const DEFAULT_TIMEOUT_MS = 10_000;
const DISCORD_API = "https://discord.com/api";

const applicationSchema = z.object({
  id: z.string().regex(/^\d{17,20}$/),
  name: z.string(),
  verify_key: z.string().nullish(),
});
const commandListSchema = z.array(z.object({ name: z.string() }));
/** Error bodies: Discord `{message, code}`, Chatwoot `{error}` or `{errors: [...]}`. */
const errorBodySchema = z.union([
  z.object({ message: z.string(), code: z.number() }).transform((v) => `${v.message} (${v.code})`),
  z.object({ error: z.string() }).transform((v) => v.error),
  z.object({ errors: z.array(z.string()).min(1) }).transform((v) => v.errors.join("; ")),
]);

/** What a request came back with: an answer (any status), or why there was none. */
type Answer =
  | { reached: true; status: number; contentType: string; json: unknown }
  | { reached: false; cause: string };
type Get = (url: string, headers: Record<string, string>) => Promise<Answer>;
/** A Chatwoot client call: its value, or what came back instead (to explain, never to trust). */
type Settled<T> = { ok: true; value: T } | { ok: false; answer: Answer };

export async function checkConfig(config: Config, options: CheckOptions = {}): Promise<number> {
  const out = options.out ?? console.log;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? fetch;
  const get = boundedGet(doFetch, timeoutMs);
  if (options.dotEnv && !options.dotEnv.found) {
    out(
      `! no .env in ${options.dotEnv.directory}: only the process environment was read ` +
        "(copy .env.example to .env there, or run cordwoot from the folder that holds it)",
    );
  }
  const checks = [
    ...await checkDiscord(config, get),
    ...await checkChatwoot(config, doFetch, timeoutMs),
    checkPort(config),
    await checkKv(config, timeoutMs),
  ];
  for (const c of checks) {
    out(`${c.ok ? "✔" : "✘"} ${c.label} — ${c.detail}`);
    if (!c.ok && c.fix) out(`    fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  out(`\n${checks.length - failed} checks passed, ${failed} failed`);
  return failed ? 1 : 0;
}

function boundedGet(doFetch: typeof fetch, timeoutMs: number): Get {
  return async (url, headers) => {
    try {
      // The signal bounds the whole exchange, body included; the cap its size.
      const res = await doFetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
      const text = await readCappedText(res);
      let json: unknown = undefined;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON: only its status and content type are ever shown
      }
      const contentType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
      return { reached: true, status: res.status, contentType, json };
    } catch (error) {
      const timedOut = error instanceof DOMException &&
        (error.name === "TimeoutError" || error.name === "AbortError");
      return {
        reached: false,
        cause: timedOut ? `no answer within ${duration(timeoutMs)}` : shortCause(error),
      };
    }
  };
}

/** Runs a Chatwoot client call; its failure becomes the Answer the checks explain. */
async function settle<T>(call: Promise<T>, timeoutMs: number): Promise<Settled<T>> {
  try {
    return { ok: true, value: await call };
  } catch (error) {
    if (!(error instanceof ChatwootError) || !error.fault) {
      return { ok: false, answer: { reached: false, cause: shortCause(error) } };
    }
    const { status, fault } = error;
    if (fault.answered) {
      const { contentType, json } = fault;
      return { ok: false, answer: { reached: true, status, contentType, json } };
    }
    const cause = fault.timedOut
      ? `no answer within ${duration(timeoutMs)}`
      : shortCause(fault.cause);
    return { ok: false, answer: { reached: false, cause } };
  }
}

function duration(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/** "HTTP 404 (text/html)" or `HTTP 401: "Invalid Access Token"`: never a raw body. */
function describeAnswer(answer: Answer & { reached: true }): string {
  const error = errorText(answer.json);
  if (error) return `HTTP ${answer.status}: "${error}"`;
  return `HTTP ${answer.status}${
    answer.json === undefined && answer.contentType ? ` (${answer.contentType})` : ""
  }`;
}

function errorText(json: unknown): string | undefined {
  const parsed = errorBodySchema.safeParse(json);
  if (!parsed.success) return undefined;
  // deno-lint-ignore no-control-regex
  const clean = parsed.data.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return clean.length > 120 ? `${clean.slice(0, 119)}…` : clean;
}

async function checkDiscord(config: Config, get: Get): Promise<Check[]> {
  const api = config.discordApiUrl;
  const headers = {
    authorization: `Bot ${config.discordToken}`,
    "user-agent": `DiscordBot (https://github.com/cordwoot, ${denoJson.version})`,
    accept: "application/json",
  };
  const unreachable = (what: string): Check => ({
    ok: false,
    label: "Discord API",
    detail: what,
    fix: api === DISCORD_API
      ? "check that this machine can reach discord.com (firewall, proxy), then try again"
      : "check DISCORD_API_URL (empty means Discord itself) and that this machine can reach it",
  });
  const me = await get(`${api}/v10/applications/@me`, headers);
  if (!me.reached) return [unreachable(`cannot reach ${api}: ${me.cause}`)];
  if (me.status === 401) {
    return [{
      ok: false,
      label: "Discord token",
      detail: "Discord refused the token (HTTP 401)",
      fix: "Developer Portal > your application > Bot > Reset Token, then put it in DISCORD_TOKEN",
    }];
  }
  const app = me.status === 200 ? applicationSchema.safeParse(me.json) : undefined;
  if (!app?.success) {
    const failing = me.status === 429 || me.status >= 500;
    return [
      unreachable(
        failing
          ? `${api} answered ${describeAnswer(me)}: Discord is rate-limiting or failing`
          : `${api} answered ${
            describeAnswer(me)
          } to GET /applications/@me, not Discord's application object`,
      ),
    ];
  }
  const checks: Check[] = [{
    ok: true,
    label: "Discord token",
    detail: `accepted (application "${app.data.name}", ${app.data.id})`,
  }];
  const sameApp = app.data.id === config.discordApplicationId;
  checks.push({
    ok: sameApp,
    label: "Discord application id",
    detail: sameApp
      ? "matches"
      : `the token belongs to application ${app.data.id}, DISCORD_CLIENT_ID says ${config.discordApplicationId}`,
    fix:
      "set DISCORD_CLIENT_ID to the Application ID shown under General Information (or leave it empty)",
  });
  checks.push({
    ok: true,
    label: "Gateway intents",
    detail: "Direct Messages and Direct Message Typing are not privileged: nothing to enable",
  });
  if (config.discordPublicKey) {
    const same = app.data.verify_key?.toLowerCase() === config.discordPublicKey;
    checks.push({
      ok: same,
      label: "Interactions public key",
      detail: same
        ? "DISCORD_PUBLIC_KEY matches the application"
        : "DISCORD_PUBLIC_KEY is not this application's key",
      fix: "copy General Information > Public Key into DISCORD_PUBLIC_KEY",
    });
  }
  const listed = await get(
    `${api}/v10/applications/${config.discordApplicationId}/commands`,
    headers,
  );
  const commands = listed.reached && listed.status === 200
    ? commandListSchema.safeParse(listed.json)
    : undefined;
  if (!commands?.success) {
    checks.push({
      ok: false,
      label: "Slash commands",
      detail: `cannot list them: ${listed.reached ? describeAnswer(listed) : listed.cause}`,
      fix: "run `cordwoot register-commands` once the token works",
    });
    return checks;
  }
  const registered = new Set(commands.data.map((c) => c.name));
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
  return checks;
}

async function checkChatwoot(
  config: Config,
  doFetch: typeof fetch,
  timeoutMs: number,
): Promise<Check[]> {
  const base = config.chatwootBaseUrl;
  const client = createChatwootClient({
    baseUrl: base,
    accountId: config.chatwootAccountId,
    inboxId: config.chatwootInboxId,
    apiToken: config.chatwootApiToken,
    fetch: doFetch,
    timeoutMs,
  });
  const inboxPath =
    `/api/v1/accounts/${config.chatwootAccountId}/inboxes/${config.chatwootInboxId}`;
  const read = await settle(client.readInboxSetup(), timeoutMs);
  const tokenFix =
    "copy Profile > Access Token of an agent or administrator (not an agent bot) into CHATWOOT_API_TOKEN";
  const reachable: Check = { ok: true, label: "Chatwoot reachable", detail: base };
  const tokenAccepted: Check = { ok: true, label: "Chatwoot token", detail: "accepted" };
  if (read.ok) {
    const inbox = read.value;
    const isApi = inbox.channelType === "Channel::Api";
    return [reachable, tokenAccepted, {
      ok: isApi,
      label: "Chatwoot inbox",
      detail: isApi
        ? `"${inbox.name}" is an API inbox`
        : `"${inbox.name}" is a ${inbox.channelType} inbox, not an API inbox`,
      fix:
        "create one under Settings > Inboxes > Add Inbox > API and put its id in CHATWOOT_INBOX_ID",
    }, await checkWebhook(config, inbox, () => settle(client.listAccountWebhooks(), timeoutMs))];
  }
  const inbox = read.answer;
  if (!inbox.reached) {
    return [{
      ok: false,
      label: "Chatwoot reachable",
      detail: `cannot reach ${base}: ${inbox.cause}`,
      fix: "check CHATWOOT_BASE_URL and that this machine can reach it",
    }];
  }
  const error = errorText(inbox.json);
  // Only Chatwoot's own answers count: its JSON errors, or an inbox object.
  if ((inbox.status === 401 || inbox.status === 403) && error) {
    if (/not authorized to access this account|account is suspended/i.test(error)) {
      return [reachable, tokenAccepted, {
        ok: false,
        label: "Chatwoot account",
        detail: `account ${config.chatwootAccountId}: Chatwoot says "${error}"`,
        fix:
          "set CHATWOOT_ACCOUNT_ID to the number in the dashboard URL (/app/accounts/<id>/…) of an active account the token's user belongs to",
      }];
    }
    if (/not authorized to do this action/i.test(error)) {
      return [reachable, tokenAccepted, {
        ok: false,
        label: "Chatwoot inbox",
        detail: `the token's user may not read inbox ${config.chatwootInboxId}`,
        fix: "add that user to the inbox, or use an administrator's access token",
      }];
    }
    return [reachable, {
      ok: false,
      label: "Chatwoot token",
      detail: `Chatwoot refused the access token (HTTP ${inbox.status}: "${error}")`,
      fix: `${tokenFix}, and check CHATWOOT_ACCOUNT_ID`,
    }];
  }
  if (inbox.status === 404 && error === "Resource could not be found") {
    return [reachable, tokenAccepted, {
      ok: false,
      label: "Chatwoot inbox",
      detail:
        `inbox ${config.chatwootInboxId} does not exist in account ${config.chatwootAccountId}`,
      fix:
        "set CHATWOOT_INBOX_ID to the id in Settings > Inboxes > your API inbox (the number in its URL), and check CHATWOOT_ACCOUNT_ID",
    }];
  }
  const failing = inbox.status >= 500;
  return [{
    ok: false,
    label: "Chatwoot reachable",
    detail: failing
      ? `${base} answered ${describeAnswer(inbox)}: Chatwoot (or the proxy in front) is failing`
      : `${base} answered ${
        describeAnswer(inbox)
      } to GET ${inboxPath}, which is not a Chatwoot API answer`,
    fix: failing
      ? "check that Chatwoot runs (its logs, the proxy in front), then run check-config again"
      : "set CHATWOOT_BASE_URL to the address you open Chatwoot at (no path), e.g. https://app.chatwoot.com",
  }];
}

async function checkWebhook(
  config: Config,
  inbox: InboxSetup,
  listWebhooks: () => Promise<Settled<AccountWebhook[]>>,
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
  const listed = await listWebhooks();
  const account = listed.ok ? listed.value.find((w) => isOurs(w.url)) : undefined;
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
    const events = new Set(account.subscriptions);
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
  if (isOurs(inbox.webhookUrl)) {
    // The API inbox's own callback receives every conversation and message event.
    return secretCheck(inbox.secret, "inbox") ??
      {
        ok: true,
        label: "Chatwoot webhook",
        detail: `the inbox's webhook URL ${inbox.webhookUrl}`,
      };
  }
  const unread = listed.ok
    ? ""
    : ` (the account's webhook list could not be read: ${
      listed.answer.reached ? describeAnswer(listed.answer) : listed.answer.cause
    })`;
  return {
    ok: false,
    label: "Chatwoot webhook",
    detail: `no webhook points at ${where}${unread}`,
    fix,
  };
}

/** WEBHOOK_PORT can be bound on WEBHOOK_HOST right now (it is released at once). */
function checkPort(config: Config): Check {
  const label = "Webhook port";
  try {
    const listener = Deno.listen({ hostname: config.webhookHost, port: config.webhookPort });
    listener.close();
    return { ok: true, label, detail: `${config.webhookHost}:${config.webhookPort} is free` };
  } catch (error) {
    const failure = bindFailure(error, config.webhookHost, config.webhookPort);
    return {
      ok: false,
      label,
      detail: failure?.problem ??
        `WEBHOOK_PORT ${config.webhookPort} cannot be bound on ${config.webhookHost} (${
          shortCause(error)
        })`,
      fix: failure?.fix === "stop the other process or choose another port"
        ? "stop the other process (an already running cordwoot counts) or choose another port"
        : failure?.fix ?? "choose another WEBHOOK_PORT or WEBHOOK_HOST",
    };
  }
}

/** KV_PATH opens as the bridge would open it (the folder of a file path is created). */
async function checkKv(config: Config, timeoutMs: number): Promise<Check> {
  const label = "KV database";
  if (config.kvPath === ":memory:") {
    return { ok: true, label, detail: ":memory: (nothing is kept across restarts)" };
  }
  if (config.kvPath === "") {
    return { ok: true, label, detail: "the platform's own database (Deno Deploy)" };
  }
  const shown = isKvConnectUrl(config.kvPath)
    ? `${new URL(config.kvPath).origin}${new URL(config.kvPath).pathname}`
    : config.kvPath;
  const opening = openKv(config.kvPath, config.kvAccessToken);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const kv = await Promise.race([opening, timedOut]);
    if (kv === "timeout") {
      opening.then((late) => late.close(), () => {});
      return {
        ok: false,
        label,
        detail: `KV_PATH ${shown}: no answer within ${duration(timeoutMs)}`,
        fix: "check the URL and that this machine can reach it",
      };
    }
    kv.close();
    return { ok: true, label, detail: `${shown} opens` };
  } catch (error) {
    if (error instanceof StartupFailure) {
      return { ok: false, label, detail: error.problem, fix: error.fix };
    }
    return { ok: false, label, detail: `KV_PATH ${shown} cannot be opened (${shortCause(error)})` };
  } finally {
    clearTimeout(timer);
  }
}
