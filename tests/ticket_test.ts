import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";

Deno.test("two DMs from a new user at the same moment make one contact and one conversation", async () => {
  await using h = await startHarness();
  const userId = "444444444444444441";
  const a = h.discord.sendDm({ userId, content: "one" });
  const b = h.discord.sendDm({ userId, content: "two" });
  await h.discord.waitFor(
    () => [a, b].every((m) => h.discord.reactions.some((r) => r.messageId === m.messageId)),
    "both DMs confirmed",
  );
  assert.equal(h.chatwoot.contacts.length, 1);
  assert.equal(h.chatwoot.conversations.length, 1);
  assert.deepEqual(
    h.chatwoot.messagesIn(h.chatwoot.conversations[0].id).map((m) => m.source_id),
    [a.messageId, b.messageId],
  );
});

Deno.test("many users writing at once each get their own contact, in order", async () => {
  await using h = await startHarness();
  const users = Array.from(
    { length: 20 },
    (_, i) => `5555555555555555${String(i).padStart(2, "0")}`,
  );
  const sent = users.flatMap((userId) =>
    [1, 2, 3].map((n) => ({ userId, ...h.discord.sendDm({ userId, content: `${userId} #${n}` }) }))
  );
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.length === sent.length,
    "every DM in Chatwoot",
    10_000,
  );
  assert.equal(h.chatwoot.contacts.length, users.length);
  assert.equal(h.chatwoot.conversations.length, users.length);
  for (const userId of users) {
    const contact = h.chatwoot.contacts.find((c) => c.identifier === `discord:${userId}`)!;
    const conversation = h.chatwoot.conversations.find((c) => c.contact_id === contact.id)!;
    assert.deepEqual(
      h.chatwoot.messagesIn(conversation.id).map((m) => m.content),
      [1, 2, 3].map((n) => `${userId} #${n}`),
    );
  }
});

Deno.test("a user already in Chatwoot is found by exact identifier and continues their conversation", async () => {
  await using h = await startHarness();
  const userId = "444444444444444442";
  const api = (path: string, body: unknown) => h.chatwoot.asAgent(path, body);
  // A look-alike whose identifier contains ours as a substring (Chatwoot's search would return it).
  await api("/contacts", { name: "Look-alike", identifier: `discord:${userId}9` });
  // The real user, created by an earlier bridge, with a conversation in our inbox.
  const created = await api("/contacts", {
    name: "Old Alice",
    identifier: `discord:${userId}`,
    inbox_id: 7,
    source_id: `discord:${userId}`,
  });
  const contactId = created.payload.contact.id;
  const conversation = await api("/conversations", {
    inbox_id: 7,
    contact_id: contactId,
    source_id: `discord:${userId}`,
  });
  h.chatwoot.calls.length = 0;

  const dm = h.discord.sendDm({ userId, content: "I'm back" });
  const message = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === dm.messageId),
    "the DM in Chatwoot",
  );
  assert.equal(message.conversation_id, conversation.id);
  assert.equal(h.chatwoot.contacts.length, 2, "no third contact");
  assert.equal(h.chatwoot.conversations.length, 1, "no new conversation");
});

Deno.test("guild messages, bots and the bot itself are ignored", async () => {
  await using h = await startHarness();
  h.discord.sendDm({
    userId: "444444444444444443",
    content: "in a server",
    guildId: "999999999999999999",
  });
  h.discord.sendDm({ userId: "444444444444444444", content: "beep", bot: true });
  h.discord.sendDm({ userId: h.discord.botId, content: "my own message" });
  const human = h.discord.sendDm({ userId: "444444444444444445", content: "a human" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === human.messageId),
    "the human DM",
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(h.chatwoot.messages.map((m) => m.content), ["a human"]);
  assert.equal(h.chatwoot.contacts.length, 1);
});

Deno.test("while Chatwoot fails, DMs wait in the mailbox and arrive in order once it recovers", async () => {
  await using h = await startHarness();
  const userId = "444444444444444446";
  let down = true;
  h.chatwoot.intercept = () =>
    down
      ? Response.json({ status: 503, error: "Service Unavailable" }, { status: 503 })
      : undefined;
  const ids = [1, 2, 3, 4, 5].map((n) => h.discord.sendDm({ userId, content: `m${n}` }).messageId);
  await h.chatwoot.waitFor(() => h.chatwoot.calls.length >= 2, "a failed attempt");
  assert.equal(h.chatwoot.messages.length, 0);
  // /healthz counts in the background and may answer with a count a moment old: ask again.
  let health = await (await fetch(`${h.httpBase}/healthz`)).json();
  for (let i = 0; i < 100 && (health.mailboxes.depth < 5 || health.mailboxes.retrying !== 1); i++) {
    await new Promise((r) => setTimeout(r, 20));
    health = await (await fetch(`${h.httpBase}/healthz`)).json();
  }
  assert.ok(health.mailboxes.depth >= 5, `depth ${health.mailboxes.depth}`);
  assert.equal(health.mailboxes.retrying, 1);

  down = false;
  // The next retry comes within the backoff (1-2 s after the first failures).
  await h.chatwoot.waitFor(() => h.chatwoot.messages.length === 5, "all five DMs", 10_000);
  assert.deepEqual(h.chatwoot.messages.map((m) => m.source_id), ids);
  assert.equal(h.chatwoot.contacts.length, 1);
  assert.equal(h.chatwoot.conversations.length, 1);
});
