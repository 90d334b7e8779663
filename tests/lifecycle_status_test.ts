import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, embedsSentTo, openTicket, settle, waitForEmbed } from "./helpers/tickets.ts";

const titles = (embeds: { title?: string }[]) => embeds.map((e) => e.title ?? "");

Deno.test("agent status changes reach the user once each, as branded embeds", async () => {
  await using h = await startHarness({
    env: { BRAND_NAME: "Acme Help", COLOR_SUCCESS: "00FF00", GREETING_ENABLED: "false" },
  });
  const userId = "600000000000000001";
  const { conversationId } = await openTicket(h, userId);

  // Chatwoot sends both events for one change; the second must not repeat the notice.
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "resolved"));
  const resolved = await waitForEmbed(h, userId, (e) => e.title === "Ticket resolved", "resolved");
  assert.equal(
    resolved.description,
    "Your support ticket has been resolved. DM us again to reopen it.",
  );
  assert.equal(resolved.color, 0x00ff00);
  assert.equal((resolved as { footer?: { text?: string } }).footer?.text, "Acme Help");

  await deliverAll(h, h.chatwoot.setStatus(conversationId, "open"));
  await waitForEmbed(h, userId, (e) => e.title === "Ticket reopened", "reopened");
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "snoozed"));
  await waitForEmbed(h, userId, (e) => e.title === "Ticket snoozed", "snoozed");
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "pending"));
  await waitForEmbed(h, userId, (e) => e.title === "Ticket queued", "pending");
  await settle(h);
  assert.deepEqual(titles(embedsSentTo(h, userId)), [
    "Ticket resolved",
    "Ticket reopened",
    "Ticket snoozed",
    "Ticket queued",
  ]);
});

Deno.test("a blank notice text switches that notice off; conversation_status_changed alone works", async () => {
  await using h = await startHarness({ env: { RESOLVED_MESSAGE: "", GREETING_ENABLED: "false" } });
  const userId = "600000000000000002";
  const { conversationId } = await openTicket(h, userId);
  const [, statusChanged] = h.chatwoot.setStatus(conversationId, "snoozed");
  await deliverAll(h, [statusChanged]); // a setup subscribed only to conversation_status_changed
  await waitForEmbed(h, userId, (e) => e.title === "Ticket snoozed", "snoozed");
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "resolved"));
  await settle(h);
  assert.deepEqual(titles(embedsSentTo(h, userId)), ["Ticket snoozed"]);
});

Deno.test("a DM to a resolved ticket inside the window reopens it without a 'reopened' notice", async () => {
  await using h = await startHarness({
    env: { REOPEN_WINDOW_HOURS: "24", GREETING_ENABLED: "false" },
  });
  const userId = "600000000000000003";
  const { conversationId } = await openTicket(h, userId);
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "resolved"));
  await waitForEmbed(h, userId, (e) => e.title === "Ticket resolved", "resolved");

  const again = await openTicket(h, userId, "one more thing");
  assert.equal(again.conversationId, conversationId);
  const conversation = h.chatwoot.conversations.find((c) => c.id === conversationId)!;
  assert.equal(conversation.status, "open");
  // Chatwoot reports the reopening that the incoming message caused: not news to the user.
  conversation.status = "resolved";
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "open"));
  await settle(h);
  assert.deepEqual(titles(embedsSentTo(h, userId)), ["Ticket resolved"]);
});

Deno.test("a DM to a ticket resolved longer ago than the window opens a new one, greeted", async () => {
  await using h = await startHarness({ env: { REOPEN_WINDOW_HOURS: "1" } });
  const userId = "600000000000000004";
  const { conversationId } = await openTicket(h, userId);
  const conversation = h.chatwoot.conversations.find((c) => c.id === conversationId)!;
  conversation.last_activity_at -= 2 * 3600; // last active two hours ago
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "resolved"));
  await waitForEmbed(h, userId, (e) => e.title === "Ticket resolved", "resolved");

  const again = await openTicket(h, userId, "new problem");
  assert.notEqual(again.conversationId, conversationId);
  assert.equal(conversation.status, "resolved", "the old ticket stays closed");
  await settle(h);
  const greetings = embedsSentTo(h, userId).filter((e) =>
    e.description?.startsWith("Thanks for reaching out")
  );
  assert.equal(greetings.length, 2, "each new ticket is greeted");
});

Deno.test("lock to single conversation keeps the same conversation whatever the window", async () => {
  await using h = await startHarness({ env: { REOPEN_WINDOW_HOURS: "1" } });
  h.chatwoot.inbox.lock_to_single_conversation = true;
  await h.bridge.checkChatwoot(); // refreshes the cached inbox settings
  const userId = "600000000000000005";
  const { conversationId } = await openTicket(h, userId);
  h.chatwoot.conversations.find((c) => c.id === conversationId)!.last_activity_at -= 5 * 3600;
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "resolved"));
  await waitForEmbed(h, userId, (e) => e.title === "Ticket resolved", "resolved");
  const again = await openTicket(h, userId, "back again");
  assert.equal(again.conversationId, conversationId);
  assert.equal(h.chatwoot.conversations.length, 1);
});

Deno.test("the greeting comes from the inbox when enabled there, and Chatwoot's own template is not relayed", async () => {
  await using h = await startHarness();
  h.chatwoot.inbox.greeting_enabled = true;
  h.chatwoot.inbox.greeting_message = "Hi {{contact.name}}, welcome to {{inbox.name}}!";
  await h.bridge.checkChatwoot();
  const userId = "600000000000000006";
  const dm = h.discord.sendDm({ userId, globalName: "Alice", content: "hi" });
  const message = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === dm.messageId),
    "the DM in Chatwoot",
  );
  const conversationId = message.conversation_id;
  const greeting = await waitForEmbed(
    h,
    userId,
    (e) => !!e.description?.startsWith("Hi "),
    "greeting",
  );

  assert.equal(greeting.description, "Hi Alice, welcome to Discord DMs!");
  // Chatwoot's own greeting template arrives by webhook too.
  await deliverAll(h, [
    h.chatwoot.agentReply(conversationId, "Hi Alice, welcome!", { messageType: "template" }),
  ]);
  await settle(h);
  assert.equal(h.discord.sentTo(userId).length, 1, "only one greeting");
});
