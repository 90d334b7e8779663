/**
 * A Discord REST request that never answers: it fails after its deadline as
 * an outage (DiscordError status 0), the item is retried, and once Discord
 * answers again the reply arrives once. Without the deadline the mailbox
 * waits on the first request forever.
 */
import assert from "node:assert/strict";
import { type Harness, startHarness } from "./helpers/harness.ts";
import { openTicket, settle } from "./helpers/tickets.ts";
import { discordRequestTimeoutMs } from "../src/discord/rest_deadline.ts";

const DEADLINE_MS = 300;

/** Ways of not answering: nothing at all, or the status and headers and then silence. */
const FAULTS = {
  "never answers": (h: Harness, route: string, times: number) => {
    h.discord.hold = (method, path) => method === "POST" && path === route && times-- > 0;
  },
  "answers 200 and never finishes the body": (h: Harness, route: string, times: number) => {
    h.discord.intercept = (method, path) =>
      method === "POST" && path === route && times-- > 0
        ? new Response(
          new ReadableStream({
            start: (c) => c.enqueue(new TextEncoder().encode('{"id":"1')),
          }),
          { headers: { "content-type": "application/json" } },
        )
        : undefined;
  },
};

for (const [fault, inject] of Object.entries(FAULTS)) {
  Deno.test(`a message POST Discord ${fault}: it times out, is retried, and the reply arrives once`, async () => {
    await using h = await startHarness({
      env: { GREETING_ENABLED: "false" },
      timings: { discordRequestMs: DEADLINE_MS, probeMs: 100, retryDelayMs: () => 100 },
    });
    const userId = "697000000000000001";
    const { conversationId } = await openTicket(h, userId);
    await settle(h);
    const channelId = h.discord.dmChannelOf(userId);
    const route = `/channels/${channelId}/messages`;
    // The first two message POSTs are taken and not answered.
    inject(h, route, 2);
    const posts = () => h.discord.requests.filter((r) => r.method === "POST" && r.path === route);
    const before = posts().length;

    await h.chatwoot.deliver(h.chatwoot.agentReply(conversationId, "answered at last"));
    await h.discord.waitFor(
      () => h.discord.repliesTo(userId).some((m) => m.content === "answered at last"),
      "the reply after two unanswered attempts",
      5_000,
    );
    await settle(h);

    const attempts = posts().slice(before);
    assert.equal(attempts.length, 3, "two unanswered attempts, then the one Discord answered");
    for (let i = 1; i < attempts.length; i++) {
      const gap = attempts[i].at - attempts[i - 1].at;
      assert.ok(gap >= DEADLINE_MS - 20, `attempt ${i + 1} came ${gap} ms after the previous one`);
    }
    assert.equal(
      h.discord.repliesTo(userId).filter((m) => m.content === "answered at last").length,
      1,
      "delivered once",
    );
    assert.ok(
      h.logs.some((l) => l.includes("no answer within 0.3 s")),
      "the attempt failed as a Discord outage with its cause",
    );
  });
}

Deno.test("the deadline grows with the files uploaded: 15 s for JSON, one more second per MiB", () => {
  assert.equal(discordRequestTimeoutMs(0), 15_000);
  assert.equal(discordRequestTimeoutMs(1), 16_000);
  assert.equal(discordRequestTimeoutMs(25 * 1024 * 1024), 40_000);
});
