/**
 * ATTACHMENT_MEMORY_MB: attachment bytes held in memory (downloaded, not yet
 * uploaded) across every mailbox stay within one budget; items wait their
 * turn, nothing is dropped, a file larger than the budget goes as a link.
 */
import assert from "node:assert/strict";
import { startBridge } from "../main.ts";
import { loadConfig } from "../src/config.ts";
import { createMemoryBudget, type MemoryBudget } from "../src/jobs/memory_budget.ts";
import { createLogger } from "../src/log.ts";
import { FakeChatwoot } from "../src/fakes/fake_chatwoot.ts";
import { FakeDiscord } from "../src/fakes/fake_discord.ts";
import { fakeEnv } from "../src/fakes/fake_env.ts";
import { startHarness } from "./helpers/harness.ts";
import { openTicket } from "./helpers/tickets.ts";

const MiB = 1024 * 1024;
const bytes = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

Deno.test("the budget serves holders first come, first served, never above its capacity", async () => {
  const budget = createMemoryBudget(10);
  const order: string[] = [];
  const a = await budget.hold(6);
  const big = budget.hold(8).then((release) => (order.push("big"), release));
  const small = budget.hold(3).then((release) => (order.push("small"), release));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(order, [], "the small one does not overtake the big one at the head");
  a!();
  const releaseBig = await big;
  assert.deepEqual(order, ["big"]);
  assert.equal(budget.held, 8);
  releaseBig!();
  (await small)!();
  assert.deepEqual(order, ["big", "small"]);
  assert.equal(budget.held, 0);
  assert.ok(budget.highWater <= 10);
  assert.equal(budget.waits, 2);
});

Deno.test("a wait ends when its signal aborts or its bound passes, and the queue moves on", async () => {
  const budget = createMemoryBudget(10, { maxWaitMs: 50 });
  const first = await budget.hold(10);
  const aborted = new AbortController();
  const waiting = budget.hold(5, aborted.signal);
  const timedOut = budget.hold(5);
  aborted.abort(new Error("lease lost"));
  await assert.rejects(waiting, /lease lost/);
  assert.equal(await timedOut, undefined, "busy: the caller sends links instead");
  assert.equal(budget.waiting, 0);
  first!();
  first!(); // releasing twice gives nothing back twice
  assert.equal(budget.held, 0);
  await assert.rejects(budget.hold(11), RangeError, "more than the whole budget can never be held");
});

Deno.test("a file larger than the whole budget is sent as a link with the reason", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false", ATTACHMENT_MEMORY_MB: "1" },
  });
  const userId = "695000000000000001";
  await openTicket(h, userId);
  const small = { name: "small.txt", contentType: "text/plain", bytes: bytes(1000, 1) };
  const huge = {
    name: "huge.bin",
    contentType: "application/octet-stream",
    bytes: bytes(2 * MiB, 2),
  };
  const dm = h.discord.sendDm({ userId, content: "files", files: [huge, small] });
  const m = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === dm.messageId),
    "the DM",
  );
  assert.deepEqual(m.attachments?.map((a) => a.name), ["small.txt"]);
  assert.match(
    m.content,
    /📎 huge\.bin \(2\.0 MiB\) not attached \(larger than the 1\.0 MiB of files the bridge holds at once\): http/,
  );
});

/** The bridge on the fakes with an instrumented budget (the harness does not take one). */
async function startWithBudget(budget: MemoryBudget) {
  const discord = FakeDiscord.start();
  const chatwoot = FakeChatwoot.start({ webhookSecret: "budget-test-secret" });
  const loaded = loadConfig(fakeEnv(discord, chatwoot, { GREETING_ENABLED: "false" }));
  if (!loaded.ok) throw new Error(loaded.problems.join("; "));
  const kv = await Deno.openKv(":memory:");
  const log = createLogger({ level: "error", format: "json", write: () => {} });
  const bridge = await startBridge(loaded.config, { kv, log, attachmentMemory: budget });
  chatwoot.webhookUrl = `http://127.0.0.1:${bridge.port}/webhook`;
  await discord.waitFor(() => discord.connectedSessions > 0, "the bot to identify");
  return {
    discord,
    chatwoot,
    bridge,
    async [Symbol.asyncDispose]() {
      await bridge.stop();
      kv.close();
      await discord.close();
      await chatwoot.close();
    },
  };
}

Deno.test("many users' big files at once, both ways: all arrive intact, the budget is never exceeded", async () => {
  const capacity = 4 * MiB;
  const budget = createMemoryBudget(capacity);
  await using b = await startWithBudget(budget);
  const users = Array.from({ length: 6 }, (_, i) => `69500000000000001${i}`);
  // Each user first gets a ticket (a small DM), so agent replies have somewhere to go.
  for (const userId of users) b.discord.sendDm({ userId, content: "hi" });
  await b.chatwoot.waitFor(() => b.chatwoot.conversations.length === users.length, "tickets");

  let peakRss = Deno.memoryUsage().rss;
  const rssBefore = peakRss;
  const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 5);
  const made = new Map<string, { name: string; contentType: string; bytes: Uint8Array }>();
  const file = (u: number, f: number) => {
    const name = `u${u}f${f}.bin`;
    if (!made.has(name)) {
      const data = new Uint8Array(1.5 * MiB);
      data.fill(u * 10 + f);
      data[0] = f; // files differ from their first byte on
      made.set(name, { name, contentType: "application/octet-stream", bytes: data });
    }
    return made.get(name)!;
  };
  const dms = users.map((userId, u) =>
    b.discord.sendDm({ userId, content: "photos", files: [file(u, 1), file(u, 2)] })
  );
  const replies = users.slice(0, 3).map((userId, u) => {
    const conversation = b.chatwoot.conversations.find((c) =>
      b.chatwoot.contacts.find((x) => x.id === c.contact_id)?.identifier === `discord:${userId}`
    )!;
    return b.chatwoot.agentReply(conversation.id, "manuals", {
      files: [file(u + 10, 1), file(u + 10, 2)],
    });
  });
  await Promise.all(replies.map((p) => b.chatwoot.deliver(p)));

  for (const [u, dm] of dms.entries()) {
    const m = await b.chatwoot.waitFor(
      () => b.chatwoot.messages.find((x) => x.source_id === dm.messageId),
      `user ${u}'s files`,
      10_000,
    );
    assert.deepEqual(m.attachments?.map((a) => a.bytes), [file(u, 1).bytes, file(u, 2).bytes]);
  }
  for (const [u, userId] of users.slice(0, 3).entries()) {
    const sent = await b.discord.waitFor(
      () => b.discord.repliesTo(userId).find((m) => m.content === "manuals"),
      `the reply to user ${u}`,
      10_000,
    );
    const files = sent.files as { bytes: Uint8Array }[];
    assert.deepEqual(files.map((f) => f.bytes), [file(u + 10, 1).bytes, file(u + 10, 2).bytes]);
  }
  clearInterval(sampler);
  // The last releases follow the fakes' answers by a moment.
  await b.chatwoot.waitFor(() => budget.held === 0, "every hold to be released");
  console.log(
    `9 messages × 2 files × 1.5 MiB at once, budget ${capacity / MiB} MiB: ` +
      `high-water ${(budget.highWater / MiB).toFixed(1)} MiB, ${budget.waits} waits, ` +
      `test process rss peak +${((peakRss - rssBefore) / MiB).toFixed(0)} MiB ` +
      `(${(peakRss / MiB).toFixed(0)} MiB)`,
  );
  assert.ok(budget.highWater <= capacity, `high-water ${budget.highWater}`);
  assert.ok(budget.highWater >= 3 * MiB, "the budget was in use");
  assert.ok(budget.waits > 0, "messages waited their turn");
});
