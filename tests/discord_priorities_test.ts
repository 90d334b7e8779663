/**
 * Agents first under load, end to end through the fakes: the ✅ confirmation
 * is best-effort (src/discord/request_scheduler.ts). A DM flood's
 * confirmations never delay an agent's reply, never hold a user's next DM,
 * and one that waited too long is dropped and counted in /metrics instead of
 * being sent late.
 */
import assert from "node:assert/strict";
import type { Harness } from "./helpers/harness.ts";
import { startHarness } from "./helpers/harness.ts";
import { openTicket } from "./helpers/tickets.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The DMs posted to Chatwoot (their Discord message ids), in the order they arrived. */
function postedDms(h: Harness): { id: string; at: number }[] {
  return h.chatwoot.calls.flatMap((c) => {
    const sourceId = (c.body as { source_id?: unknown } | undefined)?.source_id;
    return c.method === "POST" && c.route.endsWith("/conversations/{conversation_id}/messages") &&
        typeof sourceId === "string"
      ? [{ id: sourceId, at: c.at }]
      : [];
  });
}

/** When each DM (by Discord message id) reached Chatwoot (Date.now() ms). */
function chatwootArrivals(h: Harness): Map<string, number> {
  return new Map(postedDms(h).map((p) => [p.id, p.at]));
}

/** The value of a counter series in /metrics (0 when absent). */
async function counter(h: Harness, series: string): Promise<number> {
  const text = await (await fetch(`${h.httpBase}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const STALE_CONFIRMATIONS =
  'cordwoot_discord_requests_dropped_total{class="confirmation",reason="stale"}';

Deno.test("an agent reply is not delayed behind a flood's queued confirmations, and the flood's DMs all reach Chatwoot", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  h.discord.globalLimitPerSecond = 50; // Discord's global limit, enforced
  const agentUser = "699000000000000001";
  const { conversationId } = await openTicket(h, agentUser);

  // 150 users write within half a second: their ✅ need over 3 s of Discord's budget.
  const flood: string[] = [];
  for (let i = 0; i < 150; i++) {
    flood.push(
      h.discord.sendDm({ userId: `6991${String(i).padStart(14, "0")}`, content: `flood ${i}` })
        .messageId,
    );
    if (i % 30 === 29) await sleep(100);
  }
  const inChatwoot = () => flood.filter((id) => chatwootArrivals(h).has(id)).length;
  // The confirmations are flowing and a pile waits behind them.
  await h.discord.waitFor(
    () => h.discord.reactions.length >= 20 && inChatwoot() - h.discord.reactions.length >= 30,
    "a pile of confirmations waiting",
  );

  const sentAt = Date.now();
  await h.chatwoot.deliver(h.chatwoot.agentReply(conversationId, "we are on it"));
  const reply = await h.discord.waitFor(
    () =>
      h.discord.requests.find((r) =>
        r.method === "POST" && (r.body as { content?: string })?.content === "we are on it"
      ),
    "the agent reply at Discord",
  );
  const floodIds = new Set(flood);
  const confirmedThen = h.discord.reactions.filter((r) => floodIds.has(r.messageId)).length;
  // Behind the pile it would wait seconds (150 ✅ at 48/s: ~3 s; 2.9 s measured before the
  // scheduler). 1 s leaves room for a machine busy running other test files at the same time.
  assert.ok(
    reply.at - sentAt <= 1_000,
    `the reply reached Discord ${reply.at - sentAt} ms after the webhook (at most 1,000)`,
  );
  assert.ok(
    confirmedThen < inChatwoot(),
    `confirmations were still waiting when the reply went (${confirmedThen} of ${inChatwoot()})`,
  );

  // Every DM of the flood reaches Chatwoot, none waiting for its ✅.
  await h.chatwoot.waitFor(() => inChatwoot() === flood.length, "all flood DMs in Chatwoot");
  assert.equal(h.discord.global429s, 0, "the budget's smooth spacing drew no global 429");
});

Deno.test("a user's DMs reach Chatwoot in order while Discord answers none of their ✅", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  // Discord takes every confirmation and never answers (until the fake closes).
  h.discord.hold = (method, path) => method === "PUT" && path.includes("/reactions/");
  const users = Array.from({ length: 30 }, (_, i) => `6992${String(i).padStart(14, "0")}`);
  const sent = new Map<string, string[]>(users.map((u) => [u, []]));
  for (let round = 0; round < 3; round++) {
    for (const userId of users) {
      sent.get(userId)!.push(
        h.discord.sendDm({ userId, content: `message ${round} from ${userId}` }).messageId,
      );
    }
  }
  const total = users.length * 3;
  await h.chatwoot.waitFor(
    () => chatwootArrivals(h).size === total,
    "every DM in Chatwoot",
  );

  const posted = postedDms(h).map((p) => p.id);
  assert.equal(posted.length, total, "each DM posted once");
  for (const [userId, ids] of sent) {
    assert.deepEqual(posted.filter((id) => ids.includes(id)), ids, `${userId}'s DMs in order`);
  }
  assert.ok(h.discord.requestsTo("PUT", /\/reactions\//).length > 0, "the ✅ were asked for");
  assert.equal(h.discord.reactions.length, 0, "Discord answered no ✅");
});

Deno.test("a confirmation that waited too long is dropped and counted in /metrics, never sent late", async () => {
  const staleMs = 300;
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    // A 5 requests/s budget lets one ✅ out every 200 ms: most of 12 wait past 300 ms.
    timings: { discordRequests: { perSecond: 5, confirmationStaleMs: staleMs } },
  });
  const flood: string[] = [];
  for (let i = 0; i < 12; i++) {
    flood.push(
      h.discord.sendDm({ userId: `6993${String(i).padStart(14, "0")}`, content: `hi ${i}` })
        .messageId,
    );
  }
  // Each ✅ is sent or dropped as stale.
  const settledCount = async () =>
    h.discord.requestsTo("PUT", /\/reactions\//).length + await counter(h, STALE_CONFIRMATIONS);
  const deadline = Date.now() + 5_000;
  while (await settledCount() < flood.length && Date.now() < deadline) await sleep(50);
  await sleep(staleMs + 100); // anything still to come would come now
  const dropped = await counter(h, STALE_CONFIRMATIONS);
  const reactions = h.discord.requestsTo("PUT", /\/reactions\//);

  assert.ok(dropped >= 1, `stale confirmations counted (${dropped})`);
  assert.equal(reactions.length + dropped, flood.length, "each ✅ sent or dropped, once");
  const arrivals = chatwootArrivals(h);
  for (const r of reactions) {
    const messageId = /\/messages\/(\d+)\/reactions\//.exec(r.path)![1];
    const late = r.at - arrivals.get(messageId)!;
    assert.ok(late <= staleMs + 150, `a ✅ reached Discord ${late} ms after its DM was posted`);
  }
  assert.equal(arrivals.size, flood.length, "every DM reached Chatwoot all the same");
});
