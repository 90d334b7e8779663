import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, embedsSentTo, openTicket, settle, waitForEmbed } from "./helpers/tickets.ts";

const text = (value: unknown) => JSON.stringify(value);

Deno.test("/help answers at once, ephemerally", async () => {
  await using h = await startHarness();
  const r = await h.discord.responseTo(h.discord.useCommand("630000000000000001", "help"));
  assert.equal(r.type, 4);
  assert.equal((r.data as { flags: number }).flags, 64);
  assert.match(text(r.data), /\/close/);
});

Deno.test("/status without a ticket says how to open one; with one shows status and number", async () => {
  await using h = await startHarness();
  const userId = "630000000000000002";
  const none = h.discord.useCommand(userId, "status");
  assert.equal((await h.discord.responseTo(none)).type, 5, "deferred");
  assert.match(text(await h.discord.editOf(none)), /no support ticket/);

  const { conversationId } = await openTicket(h, userId);
  const status = h.discord.useCommand(userId, "status");
  const shown = text(await h.discord.editOf(status));
  assert.match(shown, new RegExp(`Ticket #${conversationId}`));
  assert.match(shown, /\*\*Status:\*\* Open/);
  assert.match(shown, /<t:\d+:R>/);
});

Deno.test("/close with a reason: private note, resolved, no second 'resolved' notice, CSAT still asked", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  h.chatwoot.autoWebhooks = true;
  h.chatwoot.inbox.csat_survey_enabled = true;
  await h.bridge.checkChatwoot();
  const userId = "630000000000000003";
  const { conversationId } = await openTicket(h, userId);
  const close = h.discord.useCommand(userId, "close", { reason: "Found it myself" });
  assert.match(text(await h.discord.editOf(close)), new RegExp(`Ticket #${conversationId} closed`));
  const conversation = h.chatwoot.conversations.find((c) => c.id === conversationId)!;
  assert.equal(conversation.status, "resolved");
  const note = h.chatwoot.messagesIn(conversationId).find((m) => m.private);
  assert.equal(note?.content, "Closed by the customer on Discord: Found it myself");
  await h.chatwoot.waitFor(() => h.chatwoot.autoDeliveries.length === 3, "Chatwoot's webhooks");
  await h.discord.waitFor(
    () => h.discord.sentTo(userId).some((m) => (m.components as unknown[]).length),
    "CSAT",
  );
  await settle(h);
  assert.deepEqual(embedsSentTo(h, userId).map((e) => e.title), ["How did we do?"]);
});

Deno.test("a /close Chatwoot refuses leaves no stale state: a later agent resolve is announced", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "630000000000000004";
  const { conversationId } = await openTicket(h, userId);
  h.chatwoot.intercept = (call) =>
    call.route.endsWith("/toggle_status")
      ? Response.json({ error: "boom" }, { status: 500 })
      : undefined;
  const close = h.discord.useCommand(userId, "close");
  assert.match(text(await h.discord.editOf(close)), /Please try again/);
  assert.equal(h.chatwoot.conversations.find((c) => c.id === conversationId)!.status, "open");
  h.chatwoot.intercept = undefined;
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) await h.chatwoot.deliver(p);
  await waitForEmbed(h, userId, (e) => e.title === "Ticket resolved", "the agent's resolve notice");
});

Deno.test("/reopen reopens a resolved ticket without a 'reopened by our team' notice", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  h.chatwoot.autoWebhooks = true;
  const userId = "630000000000000005";
  const { conversationId } = await openTicket(h, userId);
  const already = h.discord.useCommand(userId, "reopen");
  assert.match(text(await h.discord.editOf(already)), /already open/);
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) await h.chatwoot.deliver(p);
  await waitForEmbed(h, userId, (e) => e.title === "Ticket resolved", "resolved");

  const reopen = h.discord.useCommand(userId, "reopen");
  assert.match(
    text(await h.discord.editOf(reopen)),
    new RegExp(`Ticket #${conversationId} reopened`),
  );
  assert.equal(h.chatwoot.conversations.find((c) => c.id === conversationId)!.status, "open");
  await h.chatwoot.waitFor(() => h.chatwoot.autoDeliveries.length >= 2, "Chatwoot's webhooks");
  await settle(h);
  assert.deepEqual(embedsSentTo(h, userId).map((e) => e.title), ["Ticket resolved"]);
});

Deno.test("/reopen of a ticket closed longer ago than the window says a new message opens a new one", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false", REOPEN_WINDOW_HOURS: "2" },
  });
  const userId = "630000000000000006";
  const { conversationId } = await openTicket(h, userId);
  const conversation = h.chatwoot.conversations.find((c) => c.id === conversationId)!;
  conversation.status = "resolved";
  conversation.last_activity_at -= 3 * 3600;
  const reopen = h.discord.useCommand(userId, "reopen");
  assert.match(text(await h.discord.editOf(reopen)), /closed too long ago/);
  assert.equal(conversation.status, "resolved");
});

Deno.test("a user-installed app: /support in a server the bot is not in opens a ticket, answers come by DM; /status works in another DM", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "630000000000000021";
  const support = h.discord.useCommand(userId, "support", { message: "Hi from a server" }, {
    context: 0,
    guildId: "777000000000000001",
    channelId: "777000000000000002",
  });
  assert.equal((await h.discord.responseTo(support)).type, 5);
  assert.match(text(await h.discord.editOf(support)), /Message sent/);
  const posted = h.chatwoot.messages.find((m) => m.content === "Hi from a server")!;
  assert.ok(posted, "the message reached Chatwoot");
  const contact = h.chatwoot.contacts.find((c) => c.identifier === `discord:${userId}`);
  assert.ok(contact, "the contact is the user who ran the command");

  await deliverAll(h, [h.chatwoot.agentReply(posted.conversation_id, "Got it, answering here")]);
  await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "Got it, answering here"),
    "the reply in the user's DMs",
  );

  const status = h.discord.useCommand(userId, "status", {}, {
    context: 2,
    channelId: "777000000000000003",
  });
  assert.match(text(await h.discord.editOf(status)), new RegExp(`#${posted.conversation_id}`));
});
