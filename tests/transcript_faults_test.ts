/** TRANSCRIPT_ON_RESOLVE when the transcript cannot be read. */
import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, openTicket, settle } from "./helpers/tickets.ts";

Deno.test("when the transcript cannot be read (404: the conversation was deleted right after resolving), the resolved notice still reaches the user", async () => {
  await using h = await startHarness({
    env: { TRANSCRIPT_ON_RESOLVE: "true", GREETING_ENABLED: "false" },
  });
  const userId = "681500000000000030";
  const { conversationId } = await openTicket(h, userId, "hello");
  h.chatwoot.intercept = (call) =>
    call.method === "GET" && /\/conversations\/\d+\/messages$/.test(call.path)
      ? new Response(JSON.stringify({ error: "Resource could not be found" }), {
        status: 404,
        headers: { "content-type": "application/json" },
      })
      : undefined;
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) await deliverAll(h, [p]);
  await settle(h, 1_500);
  const resolved = h.discord.sentTo(userId).filter((m) =>
    /Ticket resolved/.test(JSON.stringify(m.embeds))
  );
  const reads = h.chatwoot.calls.filter((c) => c.method === "GET" && /\/messages$/.test(c.path));
  assert.equal(
    resolved.length,
    1,
    `no resolved notice (${reads.length} transcript reads tried)`,
  );
});
