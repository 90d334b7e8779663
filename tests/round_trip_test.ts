import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";

Deno.test("first DM creates one contact, one conversation and one message with the Discord id as source_id", async () => {
  await using h = await startHarness();
  const userId = "222222222222222222";
  const { messageId, channelId } = h.discord.sendDm({
    userId,
    username: "alice",
    globalName: "Alice",
    content: "Hi, my order never arrived.",
  });

  const message = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === messageId),
    "the DM in Chatwoot",
  );
  assert.equal(message.content, "Hi, my order never arrived.");
  assert.equal(message.message_type, 0);
  assert.equal(h.chatwoot.contacts.length, 1);
  const contact = h.chatwoot.contacts[0];
  assert.equal(contact.identifier, `discord:${userId}`);
  assert.equal(contact.name, "Alice");
  assert.deepEqual(contact.custom_attributes, {
    discord_id: userId,
    discord_username: "alice",
    discord_display_name: "Alice",
    source: "discord",
  });
  assert.deepEqual(h.chatwoot.contactInboxes.map((ci) => ci.source_id), [userId]);
  assert.equal(h.chatwoot.conversations.length, 1);
  assert.equal(h.chatwoot.conversations[0].inbox_id, h.chatwoot.inboxId);
  assert.equal(message.conversation_id, h.chatwoot.conversations[0].id);

  const reaction = await h.discord.waitFor(
    () => h.discord.reactions.find((r) => r.messageId === messageId),
    "the confirmation reaction",
  );
  assert.deepEqual(reaction, { channelId, messageId, emoji: "✅" });
  // Beyond the startup health read of the inbox, a first contact costs three calls.
  assert.deepEqual(
    h.chatwoot.callsTo().filter((c) => c.route !== "/api/v1/accounts/{account_id}/inboxes/{id}")
      .map((c) => `${c.method} ${c.route.replace("/api/v1/accounts/{account_id}", "")}`),
    [
      "POST /contacts",
      "POST /conversations",
      "POST /conversations/{conversation_id}/messages",
    ],
  );
  assert.deepEqual(h.chatwoot.specViolations, []);
});

Deno.test("a later DM goes to the same conversation and costs exactly one Chatwoot call", async () => {
  await using h = await startHarness();
  const userId = "222222222222222223";
  const first = h.discord.sendDm({ userId, content: "first" });
  await h.discord.waitFor(
    () => h.discord.reactions.some((r) => r.messageId === first.messageId),
    "the first DM to be confirmed",
  );
  const before = h.chatwoot.callsTo().length;

  const second = h.discord.sendDm({ userId, content: "second" });
  await h.discord.waitFor(
    () => h.discord.reactions.some((r) => r.messageId === second.messageId),
    "the second DM to be confirmed",
  );
  const calls = h.chatwoot.callsTo().slice(before);
  assert.deepEqual(
    calls.map((c) => `${c.method} ${c.route}`),
    ["POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/messages"],
  );
  assert.equal(h.chatwoot.conversations.length, 1);
  assert.deepEqual(
    h.chatwoot.messagesIn(h.chatwoot.conversations[0].id).map((m) => m.content),
    ["first", "second"],
  );
});

Deno.test("an agent reply reaches the user's DM channel, unable to ping anyone", async () => {
  await using h = await startHarness();
  const userId = "222222222222222224";
  const dm = h.discord.sendDm({ userId, content: "help" });
  await h.discord.waitFor(
    () => h.discord.reactions.some((r) => r.messageId === dm.messageId),
    "the DM to be confirmed",
  );
  const conversation = h.chatwoot.conversations[0];

  const response = await h.chatwoot.deliver(
    h.chatwoot.agentReply(conversation.id, "Hello @everyone, we are on it <@123456789012345678>"),
  );
  assert.equal(response.status, 200);
  const sent = await h.discord.waitFor(
    () => h.discord.repliesTo(userId)[0],
    "the reply in the DM channel",
  );
  assert.equal(sent.channel_id, dm.channelId);
  assert.equal(sent.content, "Hello @everyone, we are on it <@123456789012345678>");
  assert.deepEqual(sent.allowed_mentions, { parse: [] });
});

Deno.test("a 4500-character reply arrives as three messages with the text intact", async () => {
  await using h = await startHarness();
  const userId = "222222222222222225";
  const dm = h.discord.sendDm({ userId, content: "tell me everything" });
  await h.discord.waitFor(
    () => h.discord.reactions.some((r) => r.messageId === dm.messageId),
    "the DM to be confirmed",
  );
  const paragraph = (n: number) => `Paragraph ${n}: ${"lorem ipsum dolor ".repeat(40).trim()}`;
  const paragraphs = Array.from({ length: 6 }, (_, i) => paragraph(i + 1));
  const text = paragraphs.join("\n\n");
  assert.ok(text.length > 4000 && text.length <= 4600, `length ${text.length}`);

  await h.chatwoot.deliver(h.chatwoot.agentReply(h.chatwoot.conversations[0].id, text));
  const parts = await h.discord.waitFor(
    () => h.discord.repliesTo(userId).length >= 3 && h.discord.repliesTo(userId),
    "three parts",
  );
  assert.equal(parts.length, 3);
  for (const part of parts) assert.ok(part.content.length <= 2000);
  assert.equal(parts.map((p) => p.content).join("\n\n"), text);
  // Nothing else trickles in afterwards.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(h.discord.repliesTo(userId).length, 3);
});
