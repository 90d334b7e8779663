import assert from "node:assert/strict";
import { rateLimited } from "../src/fakes/fake_discord.ts";
import { startHarness } from "./helpers/harness.ts";
import { openTicket, settle } from "./helpers/tickets.ts";
import { TENTH_TIMINGS } from "./helpers/timings.ts";

Deno.test("Chatwoot refuses connections for 2 s (20 s at production timings) while a user sends 10 DMs: all arrive, in order, once", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    timings: TENTH_TIMINGS,
  });
  const userId = "660000000000000001";
  await openTicket(h, userId, "before the outage");
  await h.chatwoot.goOffline();
  const downAt = Date.now();
  const ids: string[] = [];
  for (let i = 1; i <= 10; i++) {
    ids.push(h.discord.sendDm({ userId, content: `during the outage #${i}` }).messageId);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 2_000 - (Date.now() - downAt)));
  h.chatwoot.goOnline();
  const upAt = Date.now();
  await h.chatwoot.waitFor(
    () => ids.every((id) => h.chatwoot.messages.some((m) => m.source_id === id)),
    "all 10 DMs",
    40_000,
  );
  const lastAt = Date.now();
  const got = h.chatwoot.messages.filter((m) => ids.includes(m.source_id ?? ""));
  assert.deepEqual(got.map((m) => m.source_id), ids, "in order, each once");
  await settle(h);
  assert.equal(h.chatwoot.messages.filter((m) => ids.includes(m.source_id ?? "")).length, 10);
  console.log(`outage: Chatwoot back → last of 10 DMs delivered in ${lastAt - upAt} ms`);
});

Deno.test("a 429 storm from each side: everything is delivered in order and the waits are honoured", async () => {
  // Chatwoot's 429s announce no wait, so the bridge backs off on its own (here a tenth as long).
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    timings: TENTH_TIMINGS,
  });
  const userId = "660000000000000002";
  const { conversationId } = await openTicket(h, userId);

  // Chatwoot (rack-attack): text/plain "Retry later" for the next 6 message posts.
  let chatwoot429 = 0;
  h.chatwoot.intercept = (call) =>
    call.method === "POST" && call.route.endsWith("/messages") && chatwoot429++ < 6
      ? new Response("Retry later\n", { status: 429, headers: { "content-type": "text/plain" } })
      : undefined;
  const dmIds = [1, 2, 3].map((n) => h.discord.sendDm({ userId, content: `dm ${n}` }).messageId);

  // Discord: a bucket 429 (reset-after 0.3 s) for each of the next 5 message sends.
  let discord429 = 0;
  const limitedAt: number[] = [];
  h.discord.intercept = (method, path) => {
    if (method !== "POST" || !/^\/channels\/\d+\/messages$/.test(path) || discord429 >= 5) {
      return undefined;
    }
    discord429++;
    limitedAt.push(Date.now());
    return rateLimited(0.3);
  };
  for (const n of [1, 2, 3]) {
    await h.chatwoot.deliver(h.chatwoot.agentReply(conversationId, `reply ${n}`));
  }

  await h.discord.waitFor(
    () => h.discord.repliesTo(userId).length === 3,
    "the three replies",
    20_000,
  );
  assert.deepEqual(h.discord.repliesTo(userId).map((m) => m.content), [
    "reply 1",
    "reply 2",
    "reply 3",
  ]);
  await h.chatwoot.waitFor(
    () => dmIds.every((id) => h.chatwoot.messages.some((m) => m.source_id === id)),
    "the three DMs",
    30_000,
  );
  const got = h.chatwoot.messages.filter((m) => dmIds.includes(m.source_id ?? "")).map((m) =>
    m.source_id
  );
  assert.deepEqual(got, dmIds);
  assert.equal(discord429, 5);
  // Each retry after a Discord 429 waited the announced 0.3 s.
  const sends = h.discord.requestsTo("POST", /^\/channels\/\d+\/messages$/).map((r) => r.at);
  for (const at of limitedAt) {
    const next = sends.find((s) => s > at);
    assert.ok(next !== undefined && next - at >= 280, `retried ${next! - at} ms after a 429`);
  }
});
