/**
 * Review of issue 14 (outside reviewer): answering an interactive message of
 * a conversation that has since been resolved. This test describes what
 * should happen; it may fail on the code under review.
 */
import assert from "node:assert/strict";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, openTicket, settle } from "./helpers/tickets.ts";

Deno.test("review14: clicking an option of a resolved conversation does not reopen it behind REOPEN_WINDOW_HOURS=0", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false", CSAT_ENABLED: "false" } });
  const userId = "690000000000000001";
  const { conversationId } = await openTicket(h, userId);
  await deliverAll(h, [h.chatwoot.agentReply(conversationId, "Did that help?", {
    contentType: "input_select",
    contentAttributes: { items: [{ title: "Yes", value: "yes" }, { title: "No", value: "no" }] },
  })]);
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "Did that help?"),
    "the options",
  );
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "resolved"));
  await settle(h);
  const rows = (message.components ?? []) as { components: { custom_id: string }[] }[];
  await h.discord.responseTo(
    h.discord.clickButton(userId, message as FakeMessage, rows[0].components[0].custom_id),
  );
  await settle(h, 500);
  const conversation = h.chatwoot.conversations.find((c) => c.id === conversationId)!;
  assert.equal(
    conversation.status,
    "resolved",
    "a click on an old message reopened the resolved ticket (REOPEN_WINDOW_HOURS=0: a DM would open a new one)",
  );
});
