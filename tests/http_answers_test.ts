/**
 * What the HTTP answers give away: nothing about which inbox or account the
 * bridge serves, no metrics without METRICS_TOKEN, no secrets in /healthz.
 */
import assert from "node:assert/strict";
import { hmacHex } from "../src/fakes/fake_chatwoot.ts";
import { startHarness } from "./helpers/harness.ts";
import { openTicket, settle } from "./helpers/tickets.ts";

Deno.test("a signed event for another inbox or account gets the same answer as one for ours", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "696000000000000001";
  const { conversationId } = await openTicket(h, userId);
  const answers: { status: number; body: string }[] = [];
  const capture = async (payload: Record<string, unknown>) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const body = JSON.stringify(payload);
    const signature = await hmacHex(h.chatwoot.webhookSecret!, `${timestamp}.${body}`);
    const res = await fetch(`${h.httpBase}/webhook`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-chatwoot-timestamp": timestamp,
        "x-chatwoot-signature": `sha256=${signature}`,
      },
      body,
    });
    answers.push({ status: res.status, body: await res.text() });
  };
  const ours = h.chatwoot.agentReply(conversationId, "for our inbox");
  const otherInbox = h.chatwoot.agentReply(conversationId, "for another inbox");
  (otherInbox.inbox as { id: number }).id = 999;
  const otherAccount = h.chatwoot.agentReply(conversationId, "for another account");
  (otherAccount.account as { id: number }).id = 999;
  const privateNote = h.chatwoot.agentReply(conversationId, "note", { private: true });
  for (const payload of [ours, otherInbox, otherAccount, privateNote, ours]) await capture(payload);

  assert.deepEqual(
    new Set(answers.map((a) => `${a.status} ${a.body}`)),
    new Set([`200 {"ok":true}`]),
    "queued, duplicate, other inbox, other account, private: one answer",
  );
  await settle(h);
  assert.deepEqual(h.discord.repliesTo(userId).map((m) => m.content), ["for our inbox"]);
});

Deno.test("METRICS_TOKEN: /metrics needs the bearer token; /healthz stays open and shows no secret", async () => {
  const token = "metrics-token-0123456789";
  await using h = await startHarness({ env: { METRICS_TOKEN: token } });
  const get = async (path: string, authorization?: string) => {
    const res = await fetch(`${h.httpBase}${path}`, {
      headers: authorization ? { authorization } : {},
    });
    return { status: res.status, text: await res.text() };
  };
  assert.equal((await get("/metrics")).status, 401);
  assert.equal((await get("/metrics", "Bearer wrong-token")).status, 401);
  assert.equal((await get("/metrics", `Bearer ${token}x`)).status, 401);
  assert.equal((await get("/metrics", token)).status, 401, "the Bearer scheme is required");
  const ok = await get("/metrics", `Bearer ${token}`);
  assert.equal(ok.status, 200);
  assert.match(ok.text, /cordwoot_mailbox_depth/);

  // Chatwoot refusing the token makes /healthz report it, without any secret in the report.
  h.chatwoot.intercept = () => new Response('{"error":"Invalid Access Token"}', { status: 401 });
  await h.bridge.checkChatwoot();
  const health = await get("/healthz");
  assert.ok(health.text.length > 0);
  for (
    const secret of [
      token,
      h.config.discordToken,
      h.config.chatwootApiToken,
      h.config.webhookSecret!,
    ]
  ) {
    assert.ok(!health.text.includes(secret), "a secret in /healthz");
  }
});
