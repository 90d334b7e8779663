/**
 * Topic intake (TICKET_TOPICS), end to end through the fakes: a new ticket
 * waits for the user's pick and opens with the topic's team, labels and
 * priority; what the user writes meanwhile follows in order; no pick opens
 * it after the timeout with everything; a continued ticket never asks.
 */
import assert from "node:assert/strict";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { type Harness, startHarness } from "./helpers/harness.ts";
import { settle } from "./helpers/tickets.ts";

const TOPICS = JSON.stringify([
  {
    label: "Billing",
    description: "Invoices and refunds",
    emoji: "💳",
    team: 2,
    labels: ["billing", "money"],
    priority: "high",
  },
  { label: "Bug report", emoji: "🐞", labels: ["bug"] },
]);

type Menu = {
  custom_id: string;
  options: { label: string; value: string }[];
  disabled?: boolean;
  placeholder?: string;
};

function menuOf(m: FakeMessage): Menu | undefined {
  const rows = (m.components ?? []) as { components: (Menu & { type: number })[] }[];
  return rows.flatMap((r) => r.components).find((c) => c.type === 3);
}

async function waitForMenu(h: Harness, userId: string) {
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => menuOf(m)),
    "the topic menu",
  );
  return { message, menu: menuOf(message)! };
}

function userMessages(h: Harness, userId: string) {
  const contact = h.chatwoot.contacts.find((c) => c.identifier === `discord:${userId}`);
  const conversations = h.chatwoot.conversations.filter((c) => c.contact_id === contact?.id);
  return {
    conversations,
    messages: h.chatwoot.messages.filter((m) =>
      conversations.some((c) => c.id === m.conversation_id) && m.message_type === 0
    ),
  };
}

Deno.test("topic intake: the pick opens the ticket with the topic's team, labels, priority and attribute; DMs written meanwhile follow in order", async () => {
  await using h = await startHarness({ env: { TICKET_TOPICS: TOPICS, GREETING_ENABLED: "false" } });
  const userId = "650000000000000001";
  h.discord.sendDm({ userId, content: "my invoice is wrong" });
  const { message, menu } = await waitForMenu(h, userId);
  assert.deepEqual(menu.options.map((o) => o.label), ["Billing", "Bug report"]);
  h.discord.sendDm({ userId, content: "it says 200 instead of 100" });
  h.discord.sendDm({ userId, content: "order 1234" });
  await settle(h);
  assert.equal(userMessages(h, userId).conversations.length, 0, "no ticket before the pick");

  const pick = h.discord.chooseOption(userId, message, menu.custom_id, [menu.options[0].value]);
  assert.equal((await h.discord.responseTo(pick)).type, 6);
  await h.chatwoot.waitFor(() => userMessages(h, userId).messages.length === 3, "the three DMs");
  const { conversations, messages } = userMessages(h, userId);
  assert.equal(conversations.length, 1, "one ticket");
  const c = conversations[0];
  assert.equal(c.team_id, 2);
  assert.deepEqual(c.labels, ["billing", "money"]);
  assert.equal(c.priority, "high");
  assert.deepEqual(c.custom_attributes, { topic: "Billing" });
  assert.deepEqual(messages.map((m) => m.content), [
    "my invoice is wrong",
    "it says 200 instead of 100",
    "order 1234",
  ]);
  // The menu shows the pick and can no longer be used.
  const shown = menuOf(h.discord.messageById(message.id)!)!;
  assert.equal(shown.disabled, true);
  assert.match(shown.placeholder ?? "", /Billing/);

  // Continuing the open ticket never asks again.
  h.discord.sendDm({ userId, content: "any news?" });
  await h.chatwoot.waitFor(() => userMessages(h, userId).messages.length === 4, "the fourth DM");
  await settle(h);
  assert.equal(h.discord.sentTo(userId).filter((m) => menuOf(m)).length, 1);
});

Deno.test("topic intake: no pick in time opens the ticket without a topic, with every message; a late pick is refused politely", async () => {
  await using h = await startHarness({
    env: { TICKET_TOPICS: TOPICS, GREETING_ENABLED: "false" },
    timings: { topicTimeoutMs: 400 },
  });
  const userId = "650000000000000002";
  h.discord.sendDm({ userId, content: "hello?" });
  const { message, menu } = await waitForMenu(h, userId);
  h.discord.sendDm({ userId, content: "anyone?" });
  await h.chatwoot.waitFor(
    () => userMessages(h, userId).messages.length === 2,
    "both DMs after the timeout",
  );
  const { conversations, messages } = userMessages(h, userId);
  assert.equal(conversations.length, 1);
  assert.equal(conversations[0].team_id ?? null, null);
  assert.deepEqual(conversations[0].labels ?? [], []);
  assert.deepEqual(messages.map((m) => m.content), ["hello?", "anyone?"]);

  const late = h.discord.chooseOption(userId, message, menu.custom_id, [menu.options[1].value]);
  const answer = await h.discord.responseTo(late);
  const note = answer.type === 4 ? answer : await h.discord.waitFor(
    () => h.discord.followUpsOf(late)[0],
    "the note on the late pick",
  );
  assert.match(JSON.stringify(note), /expired/);
  await settle(h);
  assert.deepEqual(userMessages(h, userId).conversations[0].labels ?? [], []);
});

Deno.test("topic intake: the pick survives a Chatwoot outage while the ticket opens; a second pick changes nothing", async () => {
  await using h = await startHarness({
    env: { TICKET_TOPICS: TOPICS, GREETING_ENABLED: "false" },
    timings: { retryDelayMs: () => 50, probeMs: 50 },
  });
  const userId = "650000000000000003";
  h.discord.sendDm({ userId, content: "crash report" });
  const { message, menu } = await waitForMenu(h, userId);
  let failures = 0;
  h.chatwoot.intercept = (call) =>
    call.route.endsWith("/labels") && failures++ < 2
      ? Response.json({ error: "down" }, { status: 503 })
      : undefined;
  await h.discord.responseTo(h.discord.chooseOption(userId, message, menu.custom_id, ["1"]));
  await h.discord.responseTo(h.discord.chooseOption(userId, message, menu.custom_id, ["0"]));
  await h.chatwoot.waitFor(() => userMessages(h, userId).messages.length === 1, "the DM", 10_000);
  await h.chatwoot.waitFor(
    () => userMessages(h, userId).conversations[0]?.labels?.length === 1,
    "the labels after the outage",
    10_000,
  );
  h.chatwoot.intercept = undefined;
  await settle(h);
  const { conversations } = userMessages(h, userId);
  assert.equal(conversations.length, 1, "the retry did not open a second ticket");
  assert.deepEqual(conversations[0].labels, ["bug"]);
  assert.deepEqual(conversations[0].custom_attributes, { topic: "Bug report" });
  assert.ok(failures >= 2);
});
