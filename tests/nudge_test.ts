/** NUDGE_AFTER_HOURS, end to end through the fakes (the wait is injected: 300 ms). */
import assert from "node:assert/strict";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { type Harness, startHarness } from "./helpers/harness.ts";
import { closeTheInbox, deliverAll, openTicket, settle } from "./helpers/tickets.ts";

const WAIT_MS = 300;

const isNudge = (m: FakeMessage) => /Still need help\?/.test(JSON.stringify(m.embeds));
const buttonsOf = (m: FakeMessage) =>
  ((m.components ?? []) as {
    components: { custom_id: string; label: string; disabled?: boolean }[];
  }[])
    .flatMap((r) => r.components);

async function agentAnswers(h: Harness, userId: string, conversationId: number, text: string) {
  await deliverAll(h, [h.chatwoot.agentReply(conversationId, text)]);
  await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === text),
    "the agent's reply",
  );
  await settle(h, 50);
}

async function nudgesAfterRun(h: Harness, userId: string) {
  await h.bridge.runScheduled("nudge stale tickets");
  await settle(h, 100);
  return h.discord.sentTo(userId).filter(isNudge);
}

function startNudging() {
  return startHarness({
    env: { NUDGE_AFTER_HOURS: "48", GREETING_ENABLED: "false" },
    timings: { nudgeAfterMs: WAIT_MS },
  });
}

Deno.test("nudge: one check-in after the wait; 'Yes' leaves a note and keeps it open; none again until the user writes", async () => {
  await using h = await startNudging();
  const userId = "670000000000000001";
  const { conversationId } = await openTicket(h, userId, "help me");
  await agentAnswers(h, userId, conversationId, "Did that work?");
  assert.equal((await nudgesAfterRun(h, userId)).length, 0, "not before the wait");
  await new Promise((r) => setTimeout(r, WAIT_MS + 50));
  const nudges = await nudgesAfterRun(h, userId);
  assert.equal(nudges.length, 1);
  assert.match(JSON.stringify(nudges[0].embeds), new RegExp(`ticket #${conversationId}`));
  assert.equal((await nudgesAfterRun(h, userId)).length, 1, "exactly one check-in");

  const yes = buttonsOf(nudges[0]).find((b) => b.label.startsWith("Yes"))!;
  const click = h.discord.clickButton(userId, nudges[0], yes.custom_id);
  assert.equal((await h.discord.responseTo(click)).type, 6);
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.private && /still needs help/.test(m.content)),
    "the note for the agents",
  );
  const conversation = h.chatwoot.conversations.find((c) => c.id === conversationId)!;
  assert.equal(conversation.status, "open");
  await h.discord.waitFor(
    () => buttonsOf(h.discord.messageById(nudges[0].id)!).every((b) => b.disabled),
    "the buttons disabled",
  );

  // The user writes, the agent answers again: a new wait, a new check-in.
  h.discord.sendDm({ userId, content: "still broken" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.content === "still broken"),
    "the DM",
  );
  await agentAnswers(h, userId, conversationId, "Try now?");
  await new Promise((r) => setTimeout(r, WAIT_MS + 50));
  const again = await nudgesAfterRun(h, userId);
  assert.equal(again.length, 2);

  const solved = buttonsOf(again[1]).find((b) => b.label === "It's solved")!;
  await h.discord.responseTo(h.discord.clickButton(userId, again[1], solved.custom_id));
  await h.chatwoot.waitFor(() => conversation.status === "resolved", "the ticket resolved");
});

Deno.test("nudge: the user's answer ends the wait; a resolved ticket and closed hours get none", async () => {
  await using h = await startNudging();
  const answered = "670000000000000002";
  const a = await openTicket(h, answered);
  await agentAnswers(h, answered, a.conversationId, "Question?");
  h.discord.sendDm({ userId: answered, content: "answer" });
  await h.chatwoot.waitFor(() => h.chatwoot.messages.find((m) => m.content === "answer"), "DM");

  const resolved = "670000000000000003";
  const r = await openTicket(h, resolved);
  await agentAnswers(h, resolved, r.conversationId, "Done!");
  for (const p of h.chatwoot.setStatus(r.conversationId, "resolved")) await deliverAll(h, [p]);

  const offHours = "670000000000000004";
  const o = await openTicket(h, offHours);
  await agentAnswers(h, offHours, o.conversationId, "Anything else?");

  await settle(h, WAIT_MS + 50);
  await closeTheInbox(h, null);
  assert.equal((await nudgesAfterRun(h, offHours)).length, 0, "nothing outside working hours");

  h.chatwoot.inbox.working_hours_enabled = false;
  await h.bridge.checkChatwoot();
  assert.equal((await nudgesAfterRun(h, offHours)).length, 1, "sent once the inbox is open");
  assert.equal(h.discord.sentTo(answered).filter(isNudge).length, 0);
  assert.equal(h.discord.sentTo(resolved).filter(isNudge).length, 0);
});
