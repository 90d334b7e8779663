/**
 * A failure stays where it belongs: one refused message does not hold the
 * others, a failing Chatwoot does not hold replies to Discord, and a
 * Chatwoot whose writes fail while its reads work does not get every DM
 * dead-lettered.
 */
import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { embedsSentTo, openTicket, settle } from "./helpers/tickets.ts";

const FAST = { probeMs: 100, retryDelayMs: () => 50 };
const MESSAGE_POSTS = /\/conversations\/\{conversation_id\}\/messages$/;
const contentOf = (body: unknown) =>
  typeof body === "object" && body !== null && "content" in body ? String(body.content) : "";

Deno.test("a Chatwoot 403 for one message while other DMs go through: bounded, a dead letter, its sender told", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" }, timings: FAST });
  const [alice, bob] = ["680000000000000001", "680000000000000002"];
  await openTicket(h, alice);
  await openTicket(h, bob);
  h.chatwoot.intercept = (call) =>
    call.method === "POST" && MESSAGE_POSTS.test(call.route) &&
      contentOf(call.body) === "not for your eyes"
      ? Response.json({ error: "You are not authorized to do this action" }, { status: 403 })
      : undefined;
  h.discord.sendDm({ userId: alice, content: "not for your eyes" });
  // Bob keeps writing meanwhile: Chatwoot takes his messages, so the 403 is the message's.
  for (let i = 0; i < 15; i++) {
    h.discord.sendDm({ userId: bob, content: `bob ${i}` });
    await new Promise((r) => setTimeout(r, 40));
  }
  await h.discord.waitFor(
    () => embedsSentTo(h, alice).some((e) => e.title === "Message not delivered"),
    "alice told her message was not delivered",
  );
  const next = h.discord.sendDm({ userId: alice, content: "second try" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.some((m) => m.source_id === next.messageId),
    "alice's next DM",
  );
  const attempts = h.chatwoot.calls.filter((c) => contentOf(c.body) === "not for your eyes");
  // Five as the message's fault, after the first one or two (before Bob's got through) that
  // could not yet tell the message from an outage.
  assert.ok(attempts.length >= 5 && attempts.length <= 7, `${attempts.length} attempts`);
});

Deno.test("while Chatwoot refuses the token, agents' replies still reach the user; their delivered marks wait apart", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" }, timings: FAST });
  const userId = "680000000000000003";
  const { conversationId } = await openTicket(h, userId);
  let refused = true;
  h.chatwoot.intercept = () =>
    refused ? Response.json({ error: "Invalid Access Token" }, { status: 401 }) : undefined;
  const replies = ["reply one", "reply two", "reply three"].map((text) =>
    h.chatwoot.agentReply(conversationId, text)
  );
  for (const reply of replies) await h.chatwoot.deliver(reply);
  await h.discord.waitFor(() => h.discord.repliesTo(userId).length === 3, "all three replies");
  assert.deepEqual(h.discord.repliesTo(userId).map((m) => m.content), [
    "reply one",
    "reply two",
    "reply three",
  ]);
  const health = await (await fetch(`${h.httpBase}/healthz`)).json();
  assert.equal(health.status, "unhealthy", "the refused token shows");
  refused = false;
  await h.chatwoot.waitFor(
    () =>
      replies.every((r) => h.chatwoot.messages.find((m) => m.id === r.id)?.status === "delivered"),
    "every reply marked delivered once the token works",
  );
  await settle(h);
  assert.equal(h.discord.repliesTo(userId).length, 3, "nothing sent twice");
});

Deno.test("Chatwoot's writes fail while its reads work: no DM is dead-lettered, /healthz is degraded, all arrive once after", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" }, timings: FAST });
  const users = ["680000000000000004", "680000000000000005", "680000000000000006"];
  for (const user of users) await openTicket(h, user);
  let broken = true;
  h.chatwoot.intercept = (call) =>
    broken && call.method === "POST" && MESSAGE_POSTS.test(call.route)
      ? Response.json({ error: "Internal Server Error" }, { status: 500 })
      : undefined;
  const dms = users.map((userId) => h.discord.sendDm({ userId, content: "anyone there?" }));
  await new Promise((r) => setTimeout(r, 1_000)); // ~20 retry delays, 10 probe intervals
  const health = await (await fetch(`${h.httpBase}/healthz`)).json();
  assert.equal(health.mailboxes.dead, 0, "nothing dead-lettered");
  assert.equal(health.status, "degraded");
  assert.ok(health.mailboxes.waitingOn.chatwoot >= 1, "mailboxes wait on chatwoot");
  for (const user of users) {
    assert.equal(
      embedsSentTo(h, user).filter((e) => e.title === "Message not delivered").length,
      0,
      "nobody is told their message failed",
    );
  }
  broken = false;
  await h.chatwoot.waitFor(
    () => dms.every((dm) => h.chatwoot.messages.some((m) => m.source_id === dm.messageId)),
    "every DM once writes work again",
  );
  await settle(h);
  for (const dm of dms) {
    assert.equal(h.chatwoot.messages.filter((m) => m.source_id === dm.messageId).length, 1);
  }
});

Deno.test("a Chatwoot 429 is waited out as its Retry-After asks: no outage shown, the DM arrives once", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" }, timings: FAST });
  const userId = "680000000000000007";
  await openTicket(h, userId);
  let limited = 2;
  const attemptsAt: number[] = [];
  h.chatwoot.intercept = (call) => {
    if (call.method !== "POST" || contentOf(call.body) !== "busy day") return undefined;
    attemptsAt.push(Date.now());
    return limited-- > 0
      ? new Response("Retry later\n", { status: 429, headers: { "retry-after": "0.4" } })
      : undefined;
  };
  const dm = h.discord.sendDm({ userId, content: "busy day" });
  await new Promise((r) => setTimeout(r, 200));
  const health = await (await fetch(`${h.httpBase}/healthz`)).json();
  assert.notEqual(health.status, "unhealthy", "a rate limit is not an outage");
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.some((m) => m.source_id === dm.messageId),
    "the DM after the waits",
  );
  const gaps = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]);
  assert.equal(gaps.length, 2);
  assert.ok(gaps.every((g) => g >= 380), `waited as asked: ${gaps.join(", ")} ms`);
});
