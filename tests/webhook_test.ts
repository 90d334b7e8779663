import assert from "node:assert/strict";
import { type Harness, startHarness } from "./helpers/harness.ts";

/** A user with a ticket, so agent replies have somewhere to go. */
async function userWithTicket(h: Harness, userId: string) {
  const dm = h.discord.sendDm({ userId, content: "hello" });
  await h.discord.waitFor(
    () => h.discord.reactions.some((r) => r.messageId === dm.messageId),
    "the DM to be confirmed",
  );
  const conversation = h.chatwoot.conversations.find((c) =>
    h.chatwoot.contacts.find((x) => x.id === c.contact_id)?.identifier === `discord:${userId}`
  )!;
  return { conversationId: conversation.id, channelId: dm.channelId };
}

/** Waits long enough for a queued delivery to have happened, then says how many were sent. */
async function settledSends(h: Harness, userId: string) {
  await new Promise((r) => setTimeout(r, 300));
  await h.bridge.mailboxes.idle();
  return h.discord.repliesTo(userId).length;
}

Deno.test("a forged signature gets 401 and nothing reaches Discord", async () => {
  await using h = await startHarness();
  const userId = "333333333333333331";
  const { conversationId } = await userWithTicket(h, userId);
  const payload = h.chatwoot.agentReply(conversationId, "forged");

  const wrongSecret = await h.chatwoot.deliver(payload, { secret: "not-the-secret" });
  assert.equal(wrongSecret.status, 401);
  const unsigned = await fetch(`${h.httpBase}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  assert.equal(unsigned.status, 401);
  await unsigned.body?.cancel();
  const stale = await h.chatwoot.deliver(payload, {
    timestamp: Math.floor(Date.now() / 1000) - 3600,
  });
  assert.equal(stale.status, 401, "a replayed delivery an hour old is refused");
  const tampered = await h.chatwoot.deliver(payload, {
    body: JSON.stringify({ ...payload, content: "tampered" }),
    signature: `sha256=${"0".repeat(64)}`,
  });
  assert.equal(tampered.status, 401);

  assert.equal(await settledSends(h, userId), 0);
  assert.ok(!h.logs.some((l) => l.includes("harness-webhook-secret")), "secret not logged");
});

Deno.test("private notes, incoming echoes and other inboxes are not relayed", async () => {
  await using h = await startHarness();
  const userId = "333333333333333332";
  const { conversationId } = await userWithTicket(h, userId);

  const note = await h.chatwoot.deliver(
    h.chatwoot.agentReply(conversationId, "internal: refund approved", { private: true }),
  );
  assert.equal(note.status, 200);
  const echo = h.chatwoot.messagesIn(conversationId).find((m) => m.message_type === 0)!;
  assert.equal((await h.chatwoot.deliver(h.chatwoot.messageCreatedPayload(echo))).status, 200);
  const otherInbox = h.chatwoot.agentReply(conversationId, "for another inbox");
  (otherInbox.inbox as { id: number }).id = 999;
  assert.equal((await h.chatwoot.deliver(otherInbox)).status, 200);

  assert.equal(await settledSends(h, userId), 0);
});

Deno.test("the same webhook delivered twice, even concurrently, gives one DM", async () => {
  await using h = await startHarness();
  const userId = "333333333333333333";
  const { conversationId } = await userWithTicket(h, userId);
  const payload = h.chatwoot.agentReply(conversationId, "only once please");

  const responses = await Promise.all([
    h.chatwoot.deliver(payload),
    h.chatwoot.deliver(payload),
    h.chatwoot.deliver(payload),
  ]);
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
  await h.discord.waitFor(() => h.discord.repliesTo(userId).length > 0, "the reply");
  assert.equal(await settledSends(h, userId), 1);
});

Deno.test("a reply finds the user from the contact identifier, in an older conversation too", async () => {
  await using h = await startHarness();
  const userId = "333333333333333334";
  const { conversationId: older } = await userWithTicket(h, userId);
  // A second, newer conversation for the same contact (opened by an agent, say).
  await h.chatwoot.asAgent("/conversations", {
    inbox_id: 7,
    contact_id: h.chatwoot.contacts[0].id,
    source_id: "x",
  });
  assert.equal(h.chatwoot.conversations.length, 2);
  // Bridges before cordwoot wrote other source ids; the contact identifier is what counts.
  h.chatwoot.contactInboxes[0].source_id = "some-random-uuid";
  await h.chatwoot.deliver(h.chatwoot.agentReply(older, "found you"));
  const sent = await h.discord.waitFor(() => h.discord.repliesTo(userId)[0], "the reply");
  assert.equal(sent.content, "found you");
});

Deno.test("malformed and unknown webhooks get clear answers and nothing is relayed", async () => {
  await using h = await startHarness({ webhookSecret: null });
  const post = async (body: string) => {
    const res = await fetch(`${h.httpBase}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-chatwoot-delivery": "d-1" },
      body,
    });
    const text = await res.text();
    return { status: res.status, text };
  };
  const notJson = await post("{not json");
  assert.equal(notJson.status, 400);
  assert.ok(!notJson.text.includes("at "), "no stack trace in the response");
  assert.equal((await post(JSON.stringify({ event: "message_created", id: "x" }))).status, 400);
  assert.equal((await post(JSON.stringify({ event: "contact_updated", id: 1 }))).status, 200);
  assert.equal((await post("x".repeat(2 * 1024 * 1024))).status, 413);
  const get = await fetch(`${h.httpBase}/webhook`);
  assert.equal(get.status, 405);
  await get.body?.cancel();
  assert.equal(h.discord.sent.length, 0);
  assert.ok(h.logs.some((l) => l.includes("malformed payload") && l.includes("d-1")));
});
