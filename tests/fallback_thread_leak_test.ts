/**
 * Hostile input (a slow or failing peer): Discord fails adding the user to their new
 * fallback thread (a 500 on `PUT /channels/{thread}/thread-members/{user}`,
 * for a while). The thread was opened; the delivery forgets it and throws; its
 * retry opens another one. Only "user not in the server" (10007) deletes the
 * unused thread: every other failure leaves an empty private thread behind,
 * one per attempt, and outage retries have no attempt limit. Each counts
 * towards the server's 1,000 active threads (for 7 days), which, once full,
 * stop the fallback for every user.
 */
import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, ticketFromServer } from "./helpers/tickets.ts";

Deno.test("while Discord fails adding the user to their fallback thread, retries do not leave an empty thread each", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    envFrom: (discord) => ({ FALLBACK_CHANNEL_ID: discord.fallbackChannelId }),
    timings: { retryDelayMs: () => 20, probeMs: 50 },
  });
  const userId = "681500000000000091";
  const first = await ticketFromServer(h, userId, "help");
  let failing = true;
  let refusals = 0;
  h.discord.intercept = (method, path) => {
    if (failing && method === "PUT" && /\/thread-members\/\d+$/.test(path)) {
      refusals++;
      return Response.json({ message: "Internal Server Error", code: 0 }, { status: 500 });
    }
    return undefined;
  };
  await deliverAll(h, [h.chatwoot.agentReply(first.conversation_id, "the reply")]);
  await h.discord.waitFor(() => refusals >= 6, "six attempts to add the user");
  failing = false;
  await h.discord.waitFor(
    () => h.discord.sent.some((m) => m.content === "the reply"),
    "the reply in a thread once Discord works again",
  );
  const empty = [...h.discord.threads.values()].filter((t) => !h.discord.sentInThread(t.id).length);
  assert.equal(empty.length, 0, `${empty.length} empty private threads left in the channel`);
});
