/**
 * a captured, correctly signed webhook replayed within the signature's
 * 5-minute window under a fresh X-Chatwoot-Delivery (the header is not signed)
 * must not undo a later change. Here: an old "contact blocked" re-blocks a
 * user the agent has since unblocked.
 */
import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { openTicket } from "./helpers/tickets.ts";

Deno.test("a replayed signed contact_updated (blocked) does not re-block an unblocked user", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "690000000000000010";
  const { conversationId } = await openTicket(h, userId);
  const contact = h.chatwoot.contacts[0];
  const timestamp = Math.floor(Date.now() / 1000);
  const blocked = h.chatwoot.setBlocked(contact.id, true);
  // The same bytes, timestamp and signature each time; only the unsigned delivery id differs.
  const body = JSON.stringify(blocked);
  assert.equal(
    (await h.chatwoot.deliver(blocked, { body, timestamp, deliveryId: "d-1" })).status,
    200,
  );
  await h.chatwoot.deliver(h.chatwoot.setBlocked(contact.id, false), { deliveryId: "d-2" });
  const replay = await h.chatwoot.deliver(blocked, { body, timestamp, deliveryId: "d-evil" });
  assert.equal(replay.status, 200);
  const before = h.chatwoot.messagesIn(conversationId).length;
  h.discord.sendDm({ userId, content: "am I unblocked?" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messagesIn(conversationId).length > before,
    "the DM of the unblocked user",
    1500,
  );
});
