/**
 * Hostile input (a replayed component click): the check-in's "Yes, I still need
 * help" pressed twice before Discord shows it disabled (a double click, or
 * the same message open on two devices). Every other answer the user gives
 * by button is taken once (interactive answers by message, CSAT by survey,
 * topic picks by menu); this one writes a private note per click.
 */
import assert from "node:assert/strict";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, openTicket, settle } from "./helpers/tickets.ts";

const isNudge = (m: FakeMessage) => /Still need help\?/.test(JSON.stringify(m.embeds));
const buttonsOf = (m: FakeMessage) =>
  ((m.components ?? []) as { components: { custom_id: string; label: string }[] }[])
    .flatMap((r) => r.components);

Deno.test("the check-in's 'Yes' clicked twice tells the agents once", async () => {
  await using h = await startHarness({
    env: { NUDGE_AFTER_HOURS: "48", GREETING_ENABLED: "false" },
    timings: { nudgeAfterMs: 100 },
  });
  const userId = "670000000000000091";
  const { conversationId } = await openTicket(h, userId, "help me");
  await deliverAll(h, [h.chatwoot.agentReply(conversationId, "Did that work?")]);
  await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "Did that work?"),
    "the agent's reply",
  );
  await new Promise((r) => setTimeout(r, 150));
  await h.bridge.runScheduled("nudge stale tickets");
  const nudge = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find(isNudge),
    "the check-in",
  );
  const yes = buttonsOf(nudge).find((b) => b.label.startsWith("Yes"))!;
  const clicks = [
    h.discord.clickButton(userId, nudge, yes.custom_id),
    h.discord.clickButton(userId, nudge, yes.custom_id),
  ];
  await Promise.all(clicks.map((c) => h.discord.responseTo(c)));
  await settle(h, 300);
  const notes = h.chatwoot.messages.filter((m) =>
    m.conversation_id === conversationId && m.private && /still needs help/.test(m.content)
  );
  assert.equal(notes.length, 1, `${notes.length} "still needs help" notes for one answer`);
});
