/**
 * Gateway reconnection against a fake Discord that fails in the ways the real
 * one does: refused upgrades, connections closed at boot, a failing
 * GET /gateway/bot, a spent identify budget, dropped and silent sessions.
 * What counts is what the fake saw (upgrade attempts and their spacing,
 * IDENTIFY vs RESUME) and whether DMs flow afterwards.
 */
import assert from "node:assert/strict";
import {
  backoffDelay,
  closeAction,
  DEFAULT_GATEWAY_TIMINGS,
  identifyWait,
} from "../src/discord/reconnect_policy.ts";
import type { FakeDiscord, GatewayFault } from "../src/fakes/fake_discord.ts";
import { type Harness, startHarness } from "./helpers/harness.ts";
import { FAST_GATEWAY_TIMINGS } from "./helpers/timings.ts";

/** The production timings divided by SCALE (tests/helpers/timings.ts). */
const SCALE = 200;
const scaled = FAST_GATEWAY_TIMINGS;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ready = (d: FakeDiscord, timeoutMs = 3_000) =>
  d.waitFor(() => d.connectedSessions > 0, "the bot to reach READY", timeoutMs);
const health = async (h: Harness) => (await (await fetch(`${h.httpBase}/healthz`)).json());

/** A DM written now reaches Chatwoot (the gateway really works again). */
async function dmFlows(h: Harness) {
  const { messageId } = h.discord.sendDm({ userId: "730000000000000001", content: "still there?" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === messageId),
    "the DM in Chatwoot",
  );
}

/** Gaps between consecutive upgrade attempts the fake saw, in ms. */
const gaps = (d: FakeDiscord) =>
  d.gatewayAttempts.slice(1).map((a, i) => a.at - d.gatewayAttempts[i].at);

Deno.test("a Discord refusing the WebSocket upgrade (503) is retried with backoff, then READY and DMs flow", async () => {
  const timings = { ...scaled, baseDelayMs: 40, maxDelayMs: 160 };
  await using h = await startHarness({
    gatewayTimings: timings,
    beforeStart: (d) => d.failNextConnections(10_000, { kind: "refuse", status: 503 }),
  });
  await sleep(700);
  const during = h.discord.gatewayAttempts.length;
  h.discord.gatewayFaults.length = 0; // Discord is back
  await ready(h.discord);

  // 40, 80, 160, 160, … ms apart (±20 %): about 6 attempts in 700 ms, where a loop makes thousands.
  assert.ok(during >= 3 && during <= 9, `${during} upgrade attempts in 700 ms`);
  for (const [i, gap] of gaps(h.discord).entries()) {
    const expected = Math.min(timings.maxDelayMs, timings.baseDelayMs * 2 ** i);
    assert.ok(gap >= expected * 0.8 - 5, `attempt ${i + 2} came ${gap} ms after the previous`);
  }
  // One log line per failed attempt, with its number, delay and cause; never the token.
  const retries = h.logs.filter((l) => l.includes("discord gateway connection failed; retrying"))
    .map((l) => JSON.parse(l));
  assert.equal(retries.length, h.discord.gatewayAttempts.length - 1);
  assert.deepEqual(retries.map((r) => r.attempt), retries.map((_, i) => i + 2));
  assert.ok(retries.every((r) => r.retryInMs > 0 && /503/.test(r.cause)), JSON.stringify(retries));
  assert.ok(!h.logs.some((l) => l.includes(h.discord.token)), "token in the logs");

  await dmFlows(h);
});

Deno.test("connections closed at boot (before HELLO, after HELLO) are retried until READY; /healthz shows the attempts", async () => {
  const faults: GatewayFault[] = [
    { kind: "closeBeforeHello", code: 1000 },
    { kind: "closeAfterHello", code: 4000 },
  ];
  await using h = await startHarness({
    gatewayTimings: scaled,
    beforeStart: (d) => {
      for (let i = 0; i < 5_000; i++) d.failNextConnections(1, faults[i % 2]);
    },
  });
  // The outage lasts 1 s (200 s at the default timings).
  await sleep(400);
  const during = await health(h);
  assert.equal(during.gateway.state, "connecting");
  assert.equal(during.gateway.ready, false);
  assert.ok(during.gateway.attempts > 0, JSON.stringify(during.gateway));
  assert.match(during.gateway.lastError, /connection closed (before|after) HELLO/);
  await sleep(600);
  const outageAttempts = h.discord.gatewayAttempts.length;
  const outageEnd = Date.now();
  h.discord.gatewayFaults.length = 0;
  await ready(h.discord);
  const toReadyMs = Date.now() - outageEnd;

  // Both fault kinds were hit, every attempt was an IDENTIFY spaced by the backoff.
  const kinds = new Set(h.discord.gatewayAttempts.map((a) => a.outcome));
  assert.ok(kinds.has("closeBeforeHello") && kinds.has("closeAfterHello"), [...kinds].join());
  assert.ok(outageAttempts <= 14, `${outageAttempts} attempts in a 1 s outage`);
  // At most one capped delay (300 ms + 20 %) after the outage ends, plus the handshake.
  assert.ok(toReadyMs <= 360 + 200, `READY ${toReadyMs} ms after the outage ended`);
  console.log(
    `outage end → READY: ${toReadyMs} ms at 1/${SCALE} timings ` +
      `(≈ ${(toReadyMs * SCALE / 1000).toFixed(0)} s at the defaults; at most 72 s)`,
  );

  const after = await health(h);
  assert.equal(after.gateway.state, "ready");
  assert.equal(after.gateway.attempts, 0);
  assert.equal(after.gateway.nextAttemptAt, null);
  await dmFlows(h);
});

Deno.test("GET /gateway/bot failing at boot is retried; a spent identify budget is waited out", async () => {
  let refused = 0;
  await using h = await startHarness({
    gatewayTimings: { ...scaled, baseDelayMs: 30 },
    beforeStart: (d) => {
      d.intercept = (method, path) =>
        method === "GET" && path === "/gateway/bot" && refused++ < 3
          ? Response.json({ message: "upstream connect error", code: 0 }, { status: 502 })
          : undefined;
      d.sessionStartLimit.remaining = 0;
      d.sessionStartLimit.reset_after = 400;
    },
  });
  const started = Date.now();
  await ready(h.discord);
  const lookups = h.discord.requestsTo("GET", /^\/gateway\/bot$/);
  assert.equal(lookups.length, 4, "three failed lookups, then one that answered");
  const lookupGaps = lookups.slice(1).map((r, i) => r.at - lookups[i].at);
  assert.ok(lookupGaps.every((g) => g >= 20), `lookups ${lookupGaps.join(", ")} ms apart`);
  // The budget said 0 left, reset in 400 ms: no IDENTIFY before then.
  const identifyGap = h.discord.gatewayAttempts[0].at - lookups[3].at;
  assert.ok(identifyGap >= 390, `IDENTIFY ${identifyGap} ms after the lookup`);
  assert.equal(h.discord.identifies.length, 1);
  assert.ok(Date.now() - started < 2_500);
  await dmFlows(h);
});

Deno.test("after READY: a resumable close resumes, 4007 and a non-resumable INVALID_SESSION identify again", async () => {
  await using h = await startHarness({ gatewayTimings: scaled });
  await ready(h.discord);
  const opsSince = (n: number) =>
    h.discord.gatewayOps.slice(n).filter((o) => o.op === 2 || o.op === 6).map((o) => o.op);

  let mark = h.discord.gatewayOps.length;
  h.discord.closeGateway(4000, "Unknown error");
  await h.discord.waitFor(
    () => opsSince(mark).length > 0 && h.discord.connectedSessions > 0,
    "RESUMED",
  );
  assert.deepEqual(opsSince(mark), [6], "RESUME, not a new IDENTIFY");

  mark = h.discord.gatewayOps.length;
  h.discord.closeGateway(4007, "Invalid seq");
  await h.discord.waitFor(
    () => opsSince(mark).length > 0 && h.discord.connectedSessions > 0,
    "READY",
  );
  assert.deepEqual(opsSince(mark), [2]);

  mark = h.discord.gatewayOps.length;
  const attempts = h.discord.gatewayAttempts.length;
  h.discord.failNextConnections(2, { kind: "invalidSession", resumable: false });
  h.discord.closeGateway(4000, "Unknown error");
  await h.discord.waitFor(
    () => h.discord.gatewayAttempts.length === attempts + 3 && h.discord.connectedSessions > 0,
    "READY after the invalid sessions",
  );
  assert.deepEqual(opsSince(mark), [6, 2, 2], "RESUME refused, IDENTIFY refused, IDENTIFY");
  const body = await health(h);
  assert.equal(body.gateway.state, "ready");
  assert.match(body.gateway.lastError, /invalidated the session/);
  await dmFlows(h);
});

Deno.test("a session that goes silent (heartbeats not acknowledged) is closed and resumed", async () => {
  // Heartbeats cannot be faster than ~1 s (Discordeno's send bucket), so this takes 1–2.5 s.
  await using h = await startHarness({
    gatewayTimings: scaled,
    beforeStart: (d) => d.heartbeatMs = 1_100,
  });
  await ready(h.discord);
  h.discord.silenceGateway();
  await h.discord.waitFor(
    () => h.discord.gatewayOps.some((o) => o.op === 6) && h.discord.connectedSessions > 0,
    "the bot to resume on a new connection",
    4_000,
  );
  const body = await health(h);
  assert.match(body.gateway.lastError, /no heartbeat ACK/);
});

Deno.test("backoff doubles to its cap with bounded jitter; close codes map to fatal, resume or identify", () => {
  const t = DEFAULT_GATEWAY_TIMINGS;
  const mid = () => 0.5;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => backoffDelay(n, t, mid)),
    [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000],
  );
  assert.equal(backoffDelay(7, t, () => 0), 48_000);
  assert.equal(backoffDelay(7, t, () => 1), 72_000);
  for (const code of [4004, 4010, 4011, 4012, 4013, 4014]) assert.equal(closeAction(code), "fatal");
  for (const code of [4003, 4007, 4009]) assert.equal(closeAction(code), "identify");
  for (const code of [0, 1000, 1001, 1006, 4000, 4008, 3010]) {
    assert.equal(closeAction(code), "resume");
  }
  const limit = { remaining: 5, resetAfter: 9_000, maxConcurrency: 1 };
  assert.equal(identifyWait(limit, undefined, 0, 5_000), 0);
  assert.equal(identifyWait(limit, 1_000, 2_000, 5_000), 4_000, "one IDENTIFY per 5 s");
  assert.equal(identifyWait({ ...limit, maxConcurrency: 5 }, 1_000, 2_000, 5_000), 0);
  assert.equal(identifyWait({ ...limit, remaining: 0 }, undefined, 0, 5_000), 9_000);
});
