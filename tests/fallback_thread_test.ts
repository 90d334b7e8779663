/**
 * FALLBACK_CHANNEL_ID, end to end through the fakes: a user whose DMs are
 * closed gets replies in a private thread, writes back there like in DMs,
 * and gets DMs again once they are open.
 */
import assert from "node:assert/strict";
import { GUILD_MESSAGES, MESSAGE_CONTENT } from "../src/fakes/fake_discord.ts";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, settle, ticketFromServer } from "./helpers/tickets.ts";

function startWithFallback() {
  return startHarness({
    env: { GREETING_ENABLED: "false" },
    envFrom: (discord) => ({ FALLBACK_CHANNEL_ID: discord.fallbackChannelId }),
  });
}

Deno.test("closed DMs: the reply lands in a private thread, the user's answers there reach Chatwoot once and in order, and DMs are used again once open", async () => {
  await using h = await startWithFallback();
  const identified = h.discord.identifiedIntents.at(-1)!;
  assert.ok(
    (identified & GUILD_MESSAGES) && (identified & MESSAGE_CONTENT),
    "asks for thread messages",
  );
  const userId = "680000000000000001";
  const first = await ticketFromServer(h, userId, "my order is missing");
  const conversationId = first.conversation_id;

  await deliverAll(h, [h.chatwoot.agentReply(conversationId, "Which order number?")]);
  const thread = await h.discord.waitFor(() => [...h.discord.threads.values()][0], "the thread");
  assert.equal(thread.type, 12, "private");
  assert.equal(thread.parent_id, h.discord.fallbackChannelId);
  assert.equal(thread.name, `Ticket #${conversationId}`);
  await h.discord.waitFor(
    () => h.discord.sentInThread(thread.id).find((m) => m.content === "Which order number?"),
    "the reply in the thread",
  );
  assert.ok(thread.members.has(userId), "the user was added");
  const note = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.private && m.content.includes(thread.id)),
    "the note saying where replies go",
  );
  assert.match(note.content, /DMs are closed/);

  // The user answers in the thread: relayed like DMs, in order, once.
  // The user answers in the thread, quickly: relayed like DMs, in order, once.
  const texts = ["#4411", "ordered Monday", ...Array.from({ length: 8 }, (_, i) => `detail ${i}`)];
  const sent = texts.map((content) =>
    h.discord.sendThreadMessage({ userId, threadId: thread.id, content })
  );
  const b = sent[1];
  await h.chatwoot.waitFor(
    () =>
      h.chatwoot.messages.filter((m) => sent.some((s) => s.messageId === m.source_id)).length ===
        texts.length,
    "the thread messages in Chatwoot",
  );
  const relayed = h.chatwoot.messages.filter((m) =>
    m.conversation_id === conversationId && m.message_type === 0
  );
  assert.deepEqual(relayed.map((m) => m.content), ["my order is missing", ...texts]);
  await h.discord.waitFor(
    () => h.discord.reactions.some((r) => r.messageId === b.messageId),
    "the ✅ in the thread",
  );

  h.discord.editThreadMessage(b.messageId, "ordered Tuesday");
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.content.includes("ordered Tuesday")),
    "the edit made in the thread",
  );

  // While DMs stay closed, replies go straight to the thread.
  const dmPath = new RegExp(`^/channels/${h.discord.dmChannelOf(userId)}/messages$`);
  const dmTriesBefore = h.discord.requestsTo("POST", dmPath).length;
  await deliverAll(h, [h.chatwoot.agentReply(conversationId, "Found it, shipping today")]);
  await h.discord.waitFor(
    () => h.discord.sentInThread(thread.id).find((m) => m.content === "Found it, shipping today"),
    "the second reply in the thread",
  );
  assert.equal(h.discord.requestsTo("POST", dmPath).length, dmTriesBefore, "no DM tried meanwhile");
  assert.equal(h.discord.threads.size, 1, "the same thread");

  // An agent typing shows in the thread, not in the closed DMs.
  await h.chatwoot.deliver(h.chatwoot.typingPayload(conversationId, true));
  await h.discord.waitFor(
    () => h.discord.typing.find((t) => t.channelId === thread.id),
    "the agent typing in the thread",
  );
  await h.chatwoot.deliver(h.chatwoot.typingPayload(conversationId, false));

  // The user opens DMs and writes there: replies go to DMs again.
  h.discord.closedDms.delete(userId);
  h.discord.sendDm({ userId, content: "thanks!" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.content === "thanks!"),
    "the DM",
  );
  await deliverAll(h, [h.chatwoot.agentReply(conversationId, "You're welcome")]);
  await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "You're welcome"),
    "the reply by DM again",
  );
  await settle(h);
  assert.ok(!h.discord.sentInThread(thread.id).some((m) => m.content === "You're welcome"));
});

Deno.test("closed DMs without FALLBACK_CHANNEL_ID: the reply is marked failed with the reason, no thread", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "680000000000000002";
  const first = await ticketFromServer(h, userId, "hello from the server");
  const reply = h.chatwoot.agentReply(first.conversation_id, "Hi!");
  await deliverAll(h, [reply]);
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.id === reply.id)?.status === "failed",
    "the reply marked failed",
  );
  assert.equal(h.discord.threads.size, 0);
});

Deno.test("closed DMs: a user who is not in the fallback channel's server gets the reply marked failed with why", async () => {
  await using h = await startWithFallback();
  const userId = "680000000000000003";
  const first = await ticketFromServer(h, userId, "hi");
  h.discord.guildMembers.delete(userId);
  const reply = h.chatwoot.agentReply(first.conversation_id, "Hello!");
  await deliverAll(h, [reply]);
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.id === reply.id)?.status === "failed",
    "the reply marked failed",
  );
  const error = (h.chatwoot.messages.find((m) => m.id === reply.id)!.content_attributes as {
    external_error?: string;
  }).external_error;
  assert.match(error ?? "", /not a member of the fallback channel's server/);
});
