/** The check-in scan over the bridge's own records (store/answer_waits.ts), with the real KV store. */
import assert from "node:assert/strict";
import { nudgeStaleTickets } from "../src/bridge/nudges.ts";
import { agentRepliedRecord, createAnswerWaits } from "../src/store/answer_waits.ts";
import { memoryPorts } from "./helpers/memory_ports.ts";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, openTicket, settle } from "./helpers/tickets.ts";

const HOUR = 3600_000;

Deno.test("100 resolved conversations whose last message was the agent's do not starve the check-in of an open one", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const p = memoryPorts();
    const now = Date.now();
    // The usual end of a ticket: the agent's "closing this now", then resolved (30 days of these).
    for (let i = 0; i < 100; i++) {
      const userId = `68150000000000${1000 + i}`;
      const contactId = p.chatwoot.addContact(`discord:${userId}`);
      const conversationId = p.chatwoot.addConversation(contactId, "resolved");
      await p.tickets.save({ userId, contactId, sourceId: `s${i}`, conversationId });
      await p.conversations.update(conversationId, () => ({
        userId,
        status: "resolved",
        lastActivityAt: 0,
        eventAt: 0,
      }));
      const r = agentRepliedRecord(conversationId, userId, now - 72 * HOUR);
      await kv.set(r.key, r.value, { expireIn: r.expireIn });
    }
    const waiting = "681500000000009999";
    const contactId = p.chatwoot.addContact(`discord:${waiting}`);
    const open = p.chatwoot.addConversation(contactId, "open");
    await p.tickets.save({ userId: waiting, contactId, sourceId: "live", conversationId: open });
    const r = agentRepliedRecord(open, waiting, now - 72 * HOUR);
    await kv.set(r.key, r.value, { expireIn: r.expireIn });

    const deps = {
      waits: createAnswerWaits(kv),
      tickets: p.tickets,
      conversations: p.conversations,
      chatwoot: p.chatwoot,
      inbox: p.inbox,
      mailbox: p.mailbox,
      afterMs: 48 * HOUR,
      log: p.log,
      now: () => now,
    };
    for (let run = 0; run < 3; run++) await nudgeStaleTickets(deps);
    const nudged = p.mailbox.appended.filter((a) => a.userId === waiting);
    assert.equal(nudged.length, 1, "the open, unanswered ticket gets its check-in");
  } finally {
    kv.close();
  }
});

Deno.test("a user who answered the agent's question with its buttons is not told 'we have not heard from you'", async () => {
  const WAIT_MS = 300;
  await using h = await startHarness({
    env: { NUDGE_AFTER_HOURS: "48", GREETING_ENABLED: "false" },
    timings: { nudgeAfterMs: WAIT_MS },
  });
  const userId = "681500000000000020";
  const { conversationId } = await openTicket(h, userId, "help");
  const payload = h.chatwoot.agentReply(conversationId, "Which product?", {
    contentType: "input_select",
    contentAttributes: { items: [{ title: "App", value: "app" }, { title: "Web", value: "web" }] },
  });
  await deliverAll(h, [payload]);
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => ((m.components ?? []) as unknown[]).length > 0),
    "the options message",
  );
  const button = (message.components as { components: { custom_id: string }[] }[])[0]
    .components[0];
  await h.discord.responseTo(h.discord.clickButton(userId, message, button.custom_id));
  await h.chatwoot.waitFor(
    () =>
      h.chatwoot.messages.find((m) => m.conversation_id === conversationId && m.content === "App"),
    "the answer posted as the contact's message",
  );
  await settle(h, WAIT_MS + 50);
  await h.bridge.runScheduled("nudge stale tickets");
  await settle(h, 100);
  const nudges = h.discord.sentTo(userId).filter((m) =>
    /Still need help\?/.test(JSON.stringify(m.embeds))
  );
  assert.equal(nudges.length, 0, "the user's answer was their last word");
});
