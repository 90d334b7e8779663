/**
 * Review of issue 14 (outside reviewer): an interactive message whose webhook
 * was missed (the bridge was down) and is recovered by reconciliation. This
 * test describes what should happen; it may fail on the code under review.
 */
import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { openTicket, settle } from "./helpers/tickets.ts";

Deno.test("review14: an options message recovered by reconciliation still has its buttons", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "680000000000000001";
  const { conversationId } = await openTicket(h, userId);
  // A bot's options message whose webhook never arrived.
  h.chatwoot.agentReply(conversationId, "Which plan?", {
    contentType: "input_select",
    contentAttributes: {
      items: [{ title: "Pro", value: "pro" }, { title: "Free", value: "free" }],
    },
  });
  const result = await h.bridge.reconcile();
  assert.equal(result.queued, 1);
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "Which plan?"),
    "the recovered message",
  );
  await settle(h);
  assert.ok(
    ((message.components ?? []) as unknown[]).length > 0,
    "recovered as plain text: nothing to click",
  );
});
