import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { embedsSentTo, openTicket, settle } from "./helpers/tickets.ts";

const quiet = { GREETING_ENABLED: "false" };

Deno.test("Discord markup reaches the agent readably", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "690000000000000001";
  const dm = h.discord.sendDm({
    userId,
    content:
      "Ask <@123456789012345678> about <#222222222222222222> <:party:333333333333333333> <t:1784541727:R>",
    mentions: [{ id: "123456789012345678", username: "bobby", global_name: "Bob" }],
  });
  const m = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === dm.messageId),
    "the DM",
  );
  assert.equal(m.content, "Ask @Bob about #channel :party: 2026-07-20T10:02:07.000Z");
});

Deno.test("replies: Discord replies carry in_reply_to; agent replies to a DM become Discord replies", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "690000000000000002";
  const first = await openTicket(h, userId, "my order is late");
  const firstCw = h.chatwoot.messages.find((m) => m.source_id === first.messageId)!;

  // The agent answers that exact DM: the Discord copy is a reply to it.
  await h.chatwoot.deliver(
    h.chatwoot.agentReply(first.conversationId, "Checking!", { inReplyTo: firstCw.id }),
  );
  const answer = await h.discord.waitFor(() => h.discord.repliesTo(userId)[0], "the agent's reply");
  assert.deepEqual(answer.message_reference, { message_id: first.messageId });

  // The user replies to the agent's message and to their own earlier one.
  const toAgent = h.discord.sendDm({ userId, content: "thanks", replyTo: answer.id });
  const toSelf = h.discord.sendDm({ userId, content: "as I said", replyTo: first.messageId });
  const a = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === toAgent.messageId),
    "reply 1",
  );
  const b = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === toSelf.messageId),
    "reply 2",
  );
  const agentMessage = h.chatwoot.messages.find((m) => m.content === "Checking!")!;
  assert.equal(a.content_attributes.in_reply_to, agentMessage.id);
  assert.equal(b.content_attributes.in_reply_to, firstCw.id);
  assert.equal(b.content_attributes.in_reply_to_external_id, first.messageId);
});

Deno.test("a user's edit and deletion reach the agent, linked to the original", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "690000000000000003";
  const dm = await openTicket(h, userId, "my adress is 1 Main St");
  const original = h.chatwoot.messages.find((m) => m.source_id === dm.messageId)!;
  h.discord.editDm(dm.messageId, "my address is 1 Main Street");
  const edit = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id?.startsWith(`${dm.messageId}:edit:`)),
    "the edit",
  );
  assert.match(edit.content, /edited this message[\s\S]*my address is 1 Main Street/);
  assert.equal(edit.content_attributes.in_reply_to, original.id);
  assert.equal(edit.message_type, 0);

  h.discord.deleteDm(userId, dm.messageId);
  const deletion = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === `${dm.messageId}:delete`),
    "the deletion",
  );
  assert.match(deletion.content, /deleted this message/);
  assert.equal(deletion.content_attributes.in_reply_to, original.id);
});

Deno.test("an agent deleting a message deletes its Discord copy; delivered replies are marked delivered", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "690000000000000004";
  const { conversationId } = await openTicket(h, userId);
  const payload = h.chatwoot.agentReply(conversationId, "oops, wrong customer");
  await h.chatwoot.deliver(payload);
  const copy = await h.discord.waitFor(() => h.discord.repliesTo(userId)[0], "the reply");
  const cw = h.chatwoot.messages.find((m) => m.id === payload.id)!;
  await h.chatwoot.waitFor(() => cw.status === "delivered", "status delivered");

  await h.chatwoot.deliver(h.chatwoot.deleteMessage(cw.id));
  await h.discord.waitFor(
    () => h.discord.deleted.find((d) => d.messageId === copy.id),
    "the Discord deletion",
  );
  assert.equal(h.discord.repliesTo(userId).length, 0);
});

Deno.test("typing shows on both sides: the contact in Chatwoot, the bot in the DM", async () => {
  // Production: off after 10 s of quiet, renewed every 8 s. Here: 1.2 s and 0.5 s (the
  // renewal still comes first, and leaves time to see that typing_off stops it).
  await using h = await startHarness({
    env: quiet,
    timings: { userTypingIdleMs: 1_200, agentTypingRenewMs: 500 },
  });
  const userId = "690000000000000005";
  const { conversationId } = await openTicket(h, userId);
  h.chatwoot.inbox.inbox_identifier = "fakeInboxIdentifier123";

  // User typing: on once however often Discord repeats it, off after a quiet spell.
  h.discord.startTyping(userId);
  h.discord.startTyping(userId);
  await h.chatwoot.waitFor(() => h.chatwoot.contactTyping.length === 1, "typing on");
  assert.deepEqual(h.chatwoot.contactTyping[0], { conversationId, status: "on" });

  // Agent typing: shown at once and renewed; a private note's typing is not shown.
  await h.chatwoot.deliver(h.chatwoot.typingPayload(conversationId, true, { private: true }));
  await h.chatwoot.deliver(h.chatwoot.typingPayload(conversationId, true, { byContact: true }));
  await settle(h, 100);
  assert.equal(h.discord.typing.length, 0);
  await h.chatwoot.deliver(h.chatwoot.typingPayload(conversationId, true));
  await h.discord.waitFor(() => h.discord.typing.length === 1, "the bot typing");
  await h.discord.waitFor(() => h.discord.typing.length === 2, "renewed typing", 2_000);
  await h.chatwoot.deliver(h.chatwoot.typingPayload(conversationId, false));
  await h.chatwoot.waitFor(() => h.chatwoot.contactTyping.length === 2, "typing off", 2_000);
  assert.equal(h.chatwoot.contactTyping[1].status, "off");
  await settle(h, 600); // longer than a renewal period
  assert.equal(h.discord.typing.length, 2, "no renewal after typing_off");
});

Deno.test("an agent can start a conversation with a Discord user who never wrote", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "690000000000000006";
  const api = (path: string, body: unknown) => h.chatwoot.asAgent(path, body);
  const created = await api("/contacts", {
    name: "Proactive",
    identifier: `discord:${userId}`,
    inbox_id: 7,
  });
  const conversation = await api("/conversations", {
    inbox_id: 7,
    contact_id: created.payload.contact.id,
    source_id: created.payload.contact_inbox.source_id,
  });
  await h.chatwoot.deliver(
    h.chatwoot.agentReply(conversation.id, "Hi! Your replacement has shipped."),
  );
  const dm = await h.discord.waitFor(() => h.discord.repliesTo(userId)[0], "the proactive DM");
  assert.equal(dm.content, "Hi! Your replacement has shipped.");
  assert.equal(
    h.discord.requestsTo("POST", /^\/users\/@me\/channels$/).length,
    1,
    "DM channel opened",
  );
});

Deno.test("ALLOW_FROM lets only listed ids and usernames in; others create nothing", async () => {
  await using h = await startHarness({
    env: { ...quiet, ALLOW_FROM: "alice, 690000000000000008" },
  });
  h.discord.sendDm({ userId: "690000000000000007", username: "mallory", content: "let me in" });
  const byName = h.discord.sendDm({
    userId: "690000000000000009",
    username: "Alice",
    content: "hi",
  });
  const byId = h.discord.sendDm({ userId: "690000000000000008", username: "bob", content: "hi" });
  await h.chatwoot.waitFor(() => h.chatwoot.messages.length === 2, "the allowed DMs");
  await settle(h);
  assert.deepEqual(
    h.chatwoot.messages.map((m) => m.source_id).sort(),
    [byName.messageId, byId.messageId].sort(),
  );
  assert.ok(!h.chatwoot.contacts.some((c) => c.identifier === "discord:690000000000000007"));
  assert.equal(h.discord.sentTo("690000000000000007").length, 0, "ignored silently");
});

Deno.test("a contact blocked in Chatwoot opens no ticket and gets a short notice", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "690000000000000010";
  const { conversationId } = await openTicket(h, userId);
  const contact = h.chatwoot.contacts[0];
  await h.chatwoot.deliver(h.chatwoot.setBlocked(contact.id, true));
  const before = h.chatwoot.messagesIn(conversationId).length;
  h.discord.sendDm({ userId, content: "still there?" });
  await h.discord.waitFor(
    () =>
      embedsSentTo(h, userId).find((e) => /cannot open a support ticket/.test(e.description ?? "")),
    "the blocked notice",
  );
  assert.equal(h.chatwoot.messagesIn(conversationId).length, before);

  // A blocked user who is new to the bridge (found by identifier) is refused the same way.
  const other = "690000000000000011";
  await h.chatwoot.asAgent("/contacts", {
    name: "Blocked",
    identifier: `discord:${other}`,
    blocked: true,
  });
  h.discord.sendDm({ userId: other, content: "hello?" });
  await h.discord.waitFor(() => embedsSentTo(h, other).length === 1, "the notice");
  assert.equal(h.chatwoot.conversations.length, 1, "no conversation for the blocked contact");
});
