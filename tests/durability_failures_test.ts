import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { openTicket, settle } from "./helpers/tickets.ts";

Deno.test("DMs closed: the Chatwoot message is marked failed with the reason, one private note, no retry loop", async () => {
  // Retries and service probes 100 ms apart (production: 1 s and up, 2 s), so a retry loop
  // would show within 500 ms.
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    timings: { retryDelayMs: () => 100, probeMs: 100 },
  });
  const userId = "650000000000000001";
  const { conversationId } = await openTicket(h, userId);
  h.discord.closedDms.add(userId);

  const first = h.chatwoot.agentReply(conversationId, "Are you there?");
  const second = h.chatwoot.agentReply(conversationId, "Hello?");
  await h.chatwoot.deliver(first);
  await h.chatwoot.deliver(second);
  const failed = await h.chatwoot.waitFor(
    () => {
      const f = h.chatwoot.messages.filter((m) => m.status === "failed");
      return f.length === 2 && f;
    },
    "both replies marked failed",
  );
  assert.equal(
    failed[0].content_attributes.external_error,
    `Cannot deliver reply ${first.id} to Discord user ${userId}: DMs are closed (50007)`,
  );
  await settle(h, 500);
  const notes = h.chatwoot.messagesIn(conversationId).filter((m) => m.private);
  assert.equal(notes.length, 1, "the private note is written once");
  assert.match(notes[0].content, /cannot reach the user on Discord/);
  const attempts = h.discord.requestsTo("POST", /^\/channels\/\d+\/messages$/).length;
  await settle(h, 500);
  assert.equal(
    h.discord.requestsTo("POST", /^\/channels\/\d+\/messages$/).length,
    attempts,
    "not retried",
  );
  const health = await (await fetch(`${h.httpBase}/healthz`)).json();
  assert.equal(health.mailboxes.depth, 0);
  assert.equal(health.mailboxes.retrying, 0);
});

Deno.test("a conversation deleted in Chatwoot: the next DM opens a new one and nothing is dropped", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "650000000000000002";
  const { conversationId } = await openTicket(h, userId);
  h.chatwoot.conversations.splice(
    h.chatwoot.conversations.findIndex((c) => c.id === conversationId),
    1,
  );
  const next = await openTicket(h, userId, "still there?");
  assert.notEqual(next.conversationId, conversationId);
  assert.equal(h.chatwoot.messagesIn(next.conversationId)[0].content, "still there?");
});

Deno.test("/metrics exposes counters, gauges and the latency histogram in Prometheus text", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "650000000000000003";
  const { conversationId } = await openTicket(h, userId);
  await h.chatwoot.deliver(h.chatwoot.agentReply(conversationId, "hi"));
  await h.discord.waitFor(() => h.discord.repliesTo(userId).length === 1, "the reply");
  await settle(h);
  const res = await fetch(`${h.httpBase}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain/);
  const text = await res.text();
  assert.match(text, /cordwoot_messages_relayed_total\{direction="to_chatwoot",kind="dm"\} 1/);
  assert.match(text, /cordwoot_messages_relayed_total\{direction="to_discord",kind="reply"\} 1/);
  assert.match(
    text,
    /cordwoot_delivery_latency_seconds_bucket\{direction="to_discord",le="\+Inf"\} 1/,
  );
  assert.match(text, /cordwoot_mailbox_depth 0/);
  assert.match(text, /cordwoot_webhooks_total\{outcome="message_created"\} 1/);
  assert.match(text, /# TYPE cordwoot_delivery_latency_seconds histogram/);
});

Deno.test("a replayed delivery (same X-Chatwoot-Delivery) is acknowledged and ignored", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "650000000000000004";
  const { conversationId } = await openTicket(h, userId);
  const first = await h.chatwoot.deliver(h.chatwoot.agentReply(conversationId, "once"), {
    deliveryId: "delivery-1",
  });
  assert.equal(first.status, 200);
  // A validly signed body replayed under a delivery id already used is not processed again.
  const replay = await h.chatwoot.deliver(h.chatwoot.agentReply(conversationId, "replayed"), {
    deliveryId: "delivery-1",
  });
  assert.equal(replay.status, 200);
  await settle(h);
  assert.deepEqual(h.discord.repliesTo(userId).map((m) => m.content), ["once"]);
});
