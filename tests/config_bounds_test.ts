/**
 * Hostile input (a new operator with a wrong .env). First: values the configuration accepts
 * but the bridge cannot use. Deno KV refuses an `expireIn` above ~8.2e15 ms
 * ("Invalid mutation: expireIn is too large"), and both windows below become
 * an `expireIn`. "Keep dead letters for ever" (DEAD_LETTER_DAYS=999999999) or
 * "reconcile everything" (RECONCILE_WINDOW_HOURS=99999999999) starts fine and
 * then breaks deliveries; a wrong .env must stop at start-up (exit 2, naming
 * the variable) instead. Last: a problem checked outside the schema is
 * left out while any other variable is wrong ("every problem at once").
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";

const TOKEN = `${btoa("123456789012345678")}.Gabcde.secret-part-of-the-token`;
const valid = {
  DISCORD_TOKEN: TOKEN,
  CHATWOOT_BASE_URL: "https://chat.example.com/",
  CHATWOOT_ACCOUNT_ID: "1",
  CHATWOOT_API_TOKEN: "cw-token-value",
  CHATWOOT_INBOX_ID: "7",
  WEBHOOK_SECRET: "webhook-secret-value",
};

Deno.test("the windows that become a KV expireIn are refused at start-up, naming the variable", () => {
  for (
    const [name, value] of [["DEAD_LETTER_DAYS", "999999999"], [
      "RECONCILE_WINDOW_HOURS",
      "99999999999",
    ]]
  ) {
    const result = loadConfig({ ...valid, [name]: value });
    assert.ok(!result.ok, `${name}=${value} was accepted`);
    assert.ok(
      result.problems.some((p) => p.startsWith(`${name} `)),
      JSON.stringify(result.problems),
    );
  }
});

Deno.test("FALLBACK_CHANNEL_ID without the gateway is listed with the other problems, not only once they are fixed", () => {
  const result = loadConfig({
    ...valid,
    FALLBACK_CHANNEL_ID: "123456789012345678",
    DISCORD_GATEWAY: "false",
    NUDGE_AFTER_HOURS: "abc",
  });
  assert.ok(!result.ok);
  const named = result.problems.map((p) => p.split(" ")[0]);
  assert.ok(named.includes("NUDGE_AFTER_HOURS"), JSON.stringify(result.problems));
  assert.ok(named.includes("FALLBACK_CHANNEL_ID"), JSON.stringify(result.problems));
});
