import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";

Deno.test("/healthz reports the gateway, the Chatwoot check and the version; 503 when Chatwoot fails", async () => {
  await using h = await startHarness();
  await h.discord.waitFor(() => h.logs.some((l) => l.includes("discord gateway ready")), "ready");
  const ok = await fetch(`${h.httpBase}/healthz`);
  const body = await ok.json();
  assert.equal(ok.status, 200, JSON.stringify(body));
  assert.equal(body.healthy, true);
  assert.equal(body.gateway.ready, true);
  assert.equal(body.chatwoot.ok, true);
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  assert.equal(body.mailboxes.depth, 0);
  const alias = await fetch(`${h.httpBase}/health`);
  assert.equal(alias.status, 200);
  await alias.body?.cancel();

  // The token stops working: the next check fails and health turns 503.
  h.chatwoot.intercept = () => Response.json({ error: "Invalid Access Token" }, { status: 401 });
  // The cron runs this check every minute; run it now rather than wait.
  await h.bridge.checkChatwoot();
  const bad = await fetch(`${h.httpBase}/healthz`);
  const badBody = await bad.json();
  assert.equal(bad.status, 503);
  assert.equal(badBody.chatwoot.ok, false);
  assert.match(badBody.chatwoot.error, /401/);
  assert.ok(!JSON.stringify(badBody).includes(h.chatwoot.token), "token in health output");
});
