import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import {
  closeTheInbox,
  embedsSentTo,
  openTicket,
  settle,
  waitForEmbed,
} from "./helpers/tickets.ts";
import { TENTH_TIMINGS } from "./helpers/timings.ts";

Deno.test("deny mode outside working hours: no ticket, and the user is told plainly", async () => {
  await using h = await startHarness({ env: { OUTSIDE_HOURS_BEHAVIOR: "false" } });
  await closeTheInbox(h, "We are closed for the weekend.");
  const userId = "610000000000000001";
  const dm = h.discord.sendDm({ userId, content: "anyone there?" });
  const refusal = await waitForEmbed(
    h,
    userId,
    (e) => e.title === "Message not delivered",
    "refusal",
  );
  assert.match(refusal.description!, /^We are closed for the weekend\./);
  assert.match(refusal.description!, /not passed on/);
  assert.match(refusal.description!, /We are back <t:\d+:F> \(<t:\d+:R>\)/);
  await settle(h);
  assert.equal(h.chatwoot.contacts.length, 0);
  assert.equal(h.chatwoot.messages.length, 0);
  assert.ok(!h.discord.reactions.some((r) => r.messageId === dm.messageId), "no ✅");
});

Deno.test("accept mode outside working hours: forwarded, and the out-of-office text shown once per ticket", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  await closeTheInbox(h, null); // no inbox text: OUTSIDE_HOURS_FALLBACK_MESSAGE is used
  const userId = "610000000000000002";
  const { conversationId } = await openTicket(h, userId, "first");
  const ooo = await waitForEmbed(h, userId, (e) => e.title === "We're offline", "out of office");
  assert.match(ooo.description!, /^Our support team is currently offline\./);
  await openTicket(h, userId, "second");
  await settle(h);
  assert.equal(embedsSentTo(h, userId).filter((e) => e.title === "We're offline").length, 1);
  assert.equal(h.chatwoot.messagesIn(conversationId).length, 2);

  // Once the ticket is resolved, the next one hears it again.
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) await h.chatwoot.deliver(p);
  await waitForEmbed(h, userId, (e) => e.title === "Ticket resolved", "resolved");
  await openTicket(h, userId, "third");
  await settle(h);
  assert.equal(embedsSentTo(h, userId).filter((e) => e.title === "We're offline").length, 2);
});

Deno.test("an unknown inbox time zone falls back to UTC with a warning and loses no DM", async () => {
  await using h = await startHarness();
  h.chatwoot.inbox.timezone = "Atlantis/Lost_City";
  h.chatwoot.inbox.working_hours_enabled = true;
  await h.bridge.checkChatwoot();
  await openTicket(h, "610000000000000003");
  assert.ok(h.logs.some((l) => l.includes("inbox time zone unknown") && l.includes("Atlantis")));
});

Deno.test("presence follows working hours: idle with the offline text when closed, online when open", async () => {
  await using h = await startHarness({
    env: { PRESENCE_ONLINE_TEXT: "We're here", PRESENCE_OFFLINE_TEXT: "Back Monday" },
  });
  await h.discord.waitFor(
    () => h.discord.gatewayOps.find((o) => o.op === 3),
    "the presence set at startup",
  );
  const presences = () =>
    h.discord.gatewayOps.filter((o) => o.op === 3).map((o) =>
      o.d as { status: string; activities: { state: string }[] }
    );
  assert.equal(presences().at(-1)!.status, "online");
  assert.equal(presences().at(-1)!.activities[0].state, "We're here");
  await closeTheInbox(h, null);
  await h.bridge.refreshPresence();
  await h.discord.waitFor(() => presences().at(-1)!.status === "idle", "idle presence");
  assert.equal(presences().at(-1)!.activities[0].state, "Back Monday");
});

Deno.test("while Chatwoot is unreachable the user is told once that delivery is delayed", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    timings: TENTH_TIMINGS,
  });
  let down = true;
  h.chatwoot.intercept = () => down ? new Response("Retry later\n", { status: 429 }) : undefined;
  const userId = "610000000000000004";
  const first = h.discord.sendDm({ userId, content: "one" });
  h.discord.sendDm({ userId, content: "two" });
  await waitForEmbed(h, userId, (e) => e.title === "Delivery delayed", "the delay notice");
  down = false;
  await h.chatwoot.waitFor(() => h.chatwoot.messages.length === 2, "both DMs", 10_000);
  assert.equal(h.chatwoot.messages[0].source_id, first.messageId);
  await settle(h);
  assert.equal(embedsSentTo(h, userId).filter((e) => e.title === "Delivery delayed").length, 1);
  // A later outage is announced again.
  down = true;
  h.discord.sendDm({ userId, content: "three" });
  await h.discord.waitFor(
    () => embedsSentTo(h, userId).filter((e) => e.title === "Delivery delayed").length === 2,
    "a second delay notice",
  );
  down = false;
});
