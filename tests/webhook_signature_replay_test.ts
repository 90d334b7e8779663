/**
 * a captured, correctly signed webhook replayed within its 5-minute
 * window. Non-message events are deduplicated on the `X-Chatwoot-Signature`
 * header text, but the signature check accepts the hex digest in any case:
 * the same signature written in upper case is a "new" delivery.
 * Here: an old "contact blocked" re-blocks a user the agent has since unblocked.
 */
import assert from "node:assert/strict";
import { hmacHex } from "../src/fakes/fake_chatwoot.ts";
import { startHarness } from "./helpers/harness.ts";
import { openTicket } from "./helpers/tickets.ts";

Deno.test("a replayed signed contact_updated with its signature in upper-case hex does not re-block an unblocked user", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "690000000000000077";
  const { conversationId } = await openTicket(h, userId);
  const contact = h.chatwoot.contacts[0];
  const timestamp = Math.floor(Date.now() / 1000);
  const blocked = h.chatwoot.setBlocked(contact.id, true);
  const body = JSON.stringify(blocked);
  const digest = await hmacHex("harness-webhook-secret", `${timestamp}.${body}`);
  assert.equal(
    (await h.chatwoot.deliver(blocked, { body, timestamp, signature: `sha256=${digest}` })).status,
    200,
  );
  await h.chatwoot.deliver(h.chatwoot.setBlocked(contact.id, false));
  // The attacker did not sign anything: same bytes, same timestamp, same digest, other case.
  const replay = await h.chatwoot.deliver(blocked, {
    body,
    timestamp,
    signature: `sha256=${digest.toUpperCase()}`,
  });
  assert.equal(replay.status, 200);
  const before = h.chatwoot.messagesIn(conversationId).length;
  h.discord.sendDm({ userId, content: "am I unblocked?" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messagesIn(conversationId).length > before,
    "the DM of the unblocked user",
    1500,
  );
});
