/**
 * Hostile input (one bad item): Chatwoot answers 500 to the Client API PATCH of one
 * interactive answer, every time (a Chatwoot bug on that one message), while
 * it answers its health check and every other call. A server error is blamed
 * on the item only when *other* deliveries to Chatwoot got through meanwhile;
 * on a quiet bridge the only other deliveries are this user's own later DMs,
 * which wait behind the answer: nothing ever gets through, the answer is
 * never dead-lettered, and the user's DMs wait for ever.
 */
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, openTicket } from "./helpers/tickets.ts";

type Row = { components: { custom_id?: string }[] };
const rowsOf = (m: FakeMessage) => (m.components ?? []) as Row[];

Deno.test("an interactive answer Chatwoot always refuses with 500 does not hold the user's later DMs for ever", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    timings: { retryDelayMs: () => 20, probeMs: 50 },
  });
  const userId = "640000000000000091";
  const { conversationId } = await openTicket(h, userId);
  const payload = h.chatwoot.agentReply(conversationId, "Please choose", {
    contentType: "input_select",
    contentAttributes: { items: [{ title: "Billing", value: "billing" }] },
  });
  await deliverAll(h, [payload]);
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => rowsOf(m).length > 0),
    "the interactive message",
  );
  h.chatwoot.intercept = (call) =>
    call.method === "PATCH" && call.path.startsWith("/public/")
      ? Response.json({ error: "Internal Server Error" }, { status: 500 })
      : undefined;
  await h.discord.responseTo(
    h.discord.clickButton(userId, message, rowsOf(message)[0].components[0].custom_id!),
  );
  // The answer fails a few times first; the DM comes after it.
  await h.chatwoot.waitFor(
    () => h.chatwoot.calls.filter((c) => c.method === "PATCH").length >= 3,
    "the answer's first attempts",
  );
  h.discord.sendDm({ userId, content: "did you get my choice?" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.some((m) => m.content === "did you get my choice?"),
    "the user's later DM (after ~5 bounded attempts of the answer)",
    2500,
  );
});
