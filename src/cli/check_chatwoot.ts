/**
 * check-config's Chatwoot checks: reachable, the token, the account, the
 * inbox (an API inbox), and a webhook pointing at this server with the
 * needed events and the same secret. They go through the bridge's own
 * Chatwoot client (its setup reader for the webhook secrets).
 *
 * Contract: only Chatwoot's own answers count (its JSON errors, or an inbox
 * object); a failed call is explained from what came back, never trusted;
 * no secret is printed, only whether it matches WEBHOOK_SECRET.
 */
import { ChatwootError } from "../chatwoot/api_call.ts";
import { createChatwootClient } from "../chatwoot/client.ts";
import type { AccountWebhook, InboxSetup } from "../chatwoot/setup_reader.ts";
import type { Config } from "../config.ts";
import { shortCause } from "../startup_failure.ts";
import { type Answer, type Check, describeAnswer, duration, errorText } from "./check_answer.ts";

/** The webhook events cordwoot needs, and those it uses when present. */
const REQUIRED_EVENTS = ["message_created"];
const STATUS_EVENTS = ["conversation_updated", "conversation_status_changed"];
const OPTIONAL_EVENTS = [
  "message_updated",
  "conversation_typing_on",
  "conversation_typing_off",
  "contact_updated",
];

/** A Chatwoot client call: its value, or what came back instead (to explain, never to trust). */
type Settled<T> = { ok: true; value: T } | { ok: false; answer: Answer };

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

export async function checkChatwoot(
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
