/**
 * Failures classified by cause, end to end through the fakes: an outage or a
 * refused token pauses and shows in /healthz; a message that cannot succeed
 * stops blocking the others and its sender learns it; a delivered reply is
 * never sent again because a later status update failed.
 */
import assert from "node:assert/strict";
import { startBridge } from "../main.ts";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { keys } from "../src/store/keys.ts";
import { fakeEnv, startHarness } from "./helpers/harness.ts";
import { embedsSentTo, openTicket, settle } from "./helpers/tickets.ts";
import { withFakes } from "./helpers/with_fakes.ts";

async function poll<T>(probe: () => Promise<T | false>, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const FAST = { probeMs: 100, retryDelayMs: () => 50 };
const MESSAGE_POSTS = /\/conversations\/\{conversation_id\}\/messages$/;

Deno.test("a rotated Chatwoot token (401): the DM waits, /healthz says why, and after a restart with the new token it arrives once", async () => {
  await withFakes(async (discord, chatwoot) => {
    // A file KV, opened anew by the restarted bridge, as a restarted process would.
    const dir = await Deno.makeTempDir();
    const loaded = loadConfig(
      fakeEnv(discord, chatwoot, { GREETING_ENABLED: "false", KV_PATH: `${dir}/cordwoot.kv` }),
    );
    if (!loaded.ok) throw new Error(loaded.problems.join("; "));
    const log = createLogger({ level: "error", format: "json", write: () => {} });
    const start = () => startBridge(loaded.config, { log, timings: FAST });
    let bridge = await start();
    try {
      await rotatedTokenScenario();
    } finally {
      await bridge.stop();
      await Deno.remove(dir, { recursive: true });
    }
    async function rotatedTokenScenario() {
      await discord.waitFor(() => discord.connectedSessions > 0, "the bot to identify");
      const userId = "670000000000000001";

      let rotated = true; // the token the bridge has is no longer Chatwoot's
      chatwoot.intercept = () =>
        rotated ? Response.json({ error: "Invalid Access Token" }, { status: 401 }) : undefined;
      const dm = discord.sendDm({ userId, content: "my order is late" });
      const health = await poll(async () => {
        const res = await fetch(`http://127.0.0.1:${bridge.port}/healthz`);
        const body = await res.json();
        return res.status === 503 && body.mailboxes.waitingOn.chatwoot === 1 && body;
      }, "/healthz to show the paused mailbox");
      assert.equal(health.status, "unhealthy");
      assert.match(health.chatwoot.error, /401/);
      assert.ok(health.problems.some((p: string) => p.startsWith("chatwoot:")));
      await new Promise((r) => setTimeout(r, 600)); // many probe intervals and retry delays
      assert.equal(health.mailboxes.dead, 0);
      assert.equal(
        (await bridge.mailboxes.stats()).dead,
        0,
        "a refused token is not the DM's fault",
      );
      assert.equal(discord.sentTo(userId).length, 0, "the user is not told");

      await bridge.stop();
      rotated = false; // the operator put the new token in .env and restarted
      bridge = await start();
      await chatwoot.waitFor(
        () => chatwoot.messages.some((m) => m.source_id === dm.messageId),
        "the DM in Chatwoot",
      );
      await new Promise((r) => setTimeout(r, 300));
      await bridge.mailboxes.idle();
      assert.equal(chatwoot.messages.filter((m) => m.source_id === dm.messageId).length, 1);
    }
  });
});

Deno.test("a DM Chatwoot refuses (422): retried a few times, the user is told, and their next DM flows", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" }, timings: FAST });
  const userId = "670000000000000002";
  await openTicket(h, userId);
  h.chatwoot.intercept = (call) =>
    call.method === "POST" && MESSAGE_POSTS.test(call.route) &&
      (call.body as { content?: string })?.content === "poison"
      ? Response.json({ error: "Validation failed" }, { status: 422 })
      : undefined;
  const poison = h.discord.sendDm({ userId, content: "poison" });
  const sentAt = Date.now();
  const next = h.discord.sendDm({ userId, content: "are you there?" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.some((m) => m.source_id === next.messageId),
    "the next DM",
  );
  console.log(
    `poison DM: the next DM reached Chatwoot ${Date.now() - sentAt} ms later (50 ms retries)`,
  );
  // The notice travels in the user's other (outbound) mailbox: it may land just after.
  const told = await h.discord.waitFor(
    () => embedsSentTo(h, userId).find((e) => e.title === "Message not delivered"),
    "the user to learn the first message was not delivered",
  );
  assert.match(told.description ?? "", /could not be passed on/);
  assert.equal(h.chatwoot.messages.some((m) => m.source_id === poison.messageId), false);
  const attempts = h.chatwoot.calls.filter((c) =>
    MESSAGE_POSTS.test(c.route) && (c.body as { content?: string })?.content === "poison"
  );
  assert.equal(attempts.length, 5, "a bounded number of attempts");
  const health = await (await fetch(`${h.httpBase}/healthz`)).json();
  assert.equal(health.mailboxes.dead, 1);
});

Deno.test("a delivered reply whose status update fails (503 ×4, then 404) is sent to Discord once", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" }, timings: FAST });
  const userId = "670000000000000003";
  const { conversationId } = await openTicket(h, userId);
  const statusPatches: number[] = [];
  const first = h.chatwoot.agentReply(conversationId, "first answer");
  const second = h.chatwoot.agentReply(conversationId, "second answer");
  h.chatwoot.intercept = (call) => {
    const patched = call.method === "PATCH" && /\/messages\/(\d+)$/.exec(call.path);
    if (!patched) return undefined;
    const id = Number(patched[1]);
    statusPatches.push(id);
    if (id === first.id && statusPatches.filter((p) => p === id).length <= 4) {
      return Response.json({ error: "unavailable" }, { status: 503 });
    }
    if (id === second.id) return Response.json({ error: "not found" }, { status: 404 });
    return undefined;
  };
  await h.chatwoot.deliver(first);
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.id === first.id)?.status === "delivered",
    "the first reply marked delivered",
  );
  await h.chatwoot.deliver(second);
  await h.discord.waitFor(() => h.discord.repliesTo(userId).length === 2, "both replies");
  await settle(h, 400);
  const posts = h.discord.repliesTo(userId).map((m) => m.content);
  assert.deepEqual(posts, ["first answer", "second answer"], "each reply sent once");
  assert.equal(statusPatches.filter((p) => p === first.id).length, 5);
  assert.equal(embedsSentTo(h, userId).length, 0, "the user is told nothing");
  const health = await (await fetch(`${h.httpBase}/healthz`)).json();
  assert.deepEqual([health.mailboxes.depth, health.mailboxes.dead], [0, 0]);
});

Deno.test("a message failing with 500 while Chatwoot answers keeps its own backoff: the probe does not retry it", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    timings: { probeMs: 50, retryDelayMs: (n) => 300 * 2 ** (n - 1) },
  });
  const userId = "670000000000000004";
  await openTicket(h, userId);
  h.chatwoot.intercept = (call) =>
    call.method === "POST" && MESSAGE_POSTS.test(call.route) &&
      (call.body as { content?: string })?.content === "breaks chatwoot"
      ? Response.json({ error: "Internal Server Error" }, { status: 500 })
      : undefined;
  h.discord.sendDm({ userId, content: "breaks chatwoot" });
  await new Promise((r) => setTimeout(r, 1_200));
  const attempts =
    h.chatwoot.calls.filter((c) =>
      MESSAGE_POSTS.test(c.route) && (c.body as { content?: string })?.content === "breaks chatwoot"
    ).length;
  // Its backoff allows attempts at 0, 0.3 and 0.9 s; a 50 ms probe waking it would make ~20.
  assert.ok(attempts >= 2 && attempts <= 4, `${attempts} attempts in 1.2 s`);
  const health = await (await fetch(`${h.httpBase}/healthz`)).json();
  assert.equal(health.chatwoot.ok, true, "Chatwoot itself is fine");
});

Deno.test("/healthz and /metrics answer at once with 100,000 dead letters; an item waiting too long is 'degraded'", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const kv = h.bridge.kv;
  const now = Date.now();
  for (let i = 0; i < 100_000; i += 1000) {
    const op = kv.atomic();
    for (let j = i; j < i + 1000; j++) {
      op.set(keys.deadItem("in", "670000000000000005", [BigInt(j)]), {
        item: { kind: "dm" },
        reason: "test",
        failedAt: now - j,
      });
    }
    await op.commit();
  }
  // An item two hours old, held by another instance's lease.
  await kv.set(keys.lease("out", "670000000000000006"), {
    owner: "elsewhere",
    expiresAt: now + 60_000,
  });
  await kv.set(keys.mailboxItem("out", "670000000000000006", [1n]), {
    item: { kind: "notice" },
    progress: {},
    appendedAt: now - 2 * 3600_000,
  });
  const first = await (await fetch(`${h.httpBase}/healthz`)).json(); // may count once
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const t = performance.now();
      const res = await fetch(`${h.httpBase}/healthz`);
      const body = await res.json();
      return { ms: performance.now() - t, status: res.status, body };
    }),
  );
  const all = performance.now() - started;
  const worst = Math.max(...answers.map((a) => a.ms));
  console.log(
    `/healthz with 100,000 dead letters: 20 concurrent calls in ${all.toFixed(0)} ms, ` +
      `slowest ${worst.toFixed(1)} ms`,
  );
  assert.ok(all < 500, `20 concurrent calls took ${all.toFixed(0)} ms`);
  const { body } = answers[0];
  assert.ok([first.mailboxes.dead, body.mailboxes.dead].includes(100_000));
  assert.equal(body.status, "degraded");
  assert.match(body.problems[0], /waited 120 min/);
  const metrics = performance.now();
  const text = await (await fetch(`${h.httpBase}/metrics`)).text();
  assert.ok(performance.now() - metrics < 200, "metrics at once");
  assert.match(text, /cordwoot_dead_letters 100000/);
  assert.match(text, /cordwoot_dead_letter_oldest_age_seconds \d/);
});
