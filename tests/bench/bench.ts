/**
 * `deno task bench`: the real bridge (`main.ts serve`, as a subprocess so its
 * memory is measured alone, on a file KV: durability on) against the fakes on
 * 127.0.0.1. Prints one table and checks each target. Every loop is bounded
 * in count and time.
 *
 * What is measured:
 * - API calls per message, counted by the fakes;
 * - latency at 20 msg/s (gateway dispatch → Chatwoot POST arrives; webhook
 *   POST sent → Discord message POST arrives), with instant fakes and with
 *   50 ms added to every fake request;
 * - sustained inbound throughput over a ramp of rates from 1,000 users;
 * - a mixed step: a DM flood while agents reply, against a fake Discord
 *   enforcing the 50 requests/s global limit (replies must not wait behind
 *   the flood's ✅ confirmations);
 * - outbound against the same limit;
 * - RSS of the bridge idle, during the 800/s step, and a minute after the load;
 * - start-up time to `/healthz` 200.
 *
 * Everything runs with the default configuration (the ✅ confirmation on).
 */
import denoJson from "../../deno.json" with { type: "json" };
import { FakeChatwoot } from "../../src/fakes/fake_chatwoot.ts";
import { FakeDiscord, snowflake } from "../../src/fakes/fake_discord.ts";
import { fakeEnv } from "../helpers/harness.ts";
import { DENO_JSON, freePort, MAIN } from "../helpers/process.ts";

const START_FLAGS = denoJson.tasks.start.command.split(/\s+/).filter((a) => a.startsWith("--"));
const RAMP = (Deno.env.get("BENCH_RAMP") ?? "100,200,400,800,1600").split(",").map(Number);
const STEP_SECONDS = Number(Deno.env.get("BENCH_STEP_SECONDS") ?? 8);
const USERS = 1000;

type Row = { metric: string; value: string; target: string; met: boolean | undefined };
const rows: Row[] = [];
const row = (metric: string, value: string, target = "", met?: boolean) =>
  rows.push({ metric, value, target, met });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentiles(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  return { p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] };
}

function rssMiB(pid: number, field = "VmRSS"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
}

/** Anonymous memory (the process's own) and file pages mapped (the KV database's, reclaimable). */
function rssParts(pid: number): string {
  return `anonymous ${rssMiB(pid, "RssAnon").toFixed(1)}, file-backed ${
    rssMiB(pid, "RssFile").toFixed(1)
  }`;
}

async function until(probe: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (probe()) return true;
    await sleep(2);
  }
  return probe();
}

/** How many of these ids reached Chatwoot, counting only from where the last count stopped. */
const counted = new WeakMap<string[], number>();
function arrivedIn(ids: string[]): number {
  let n = counted.get(ids) ?? 0;
  while (n < ids.length && arrivedAtChatwoot.has(ids[n])) n++;
  // Ids arrive in about the order they were sent; the rest are checked once the prefix is in.
  const done = n === ids.length
    ? n
    : n + ids.slice(n).filter((id) => arrivedAtChatwoot.has(id)).length;
  counted.set(ids, n);
  return done;
}

// ---------------------------------------------------------------- set-up

const discord = FakeDiscord.start();
discord.globalLimitPerSecond = 50;
const chatwoot = FakeChatwoot.start({ webhookSecret: "bench-secret" });
const port = freePort();
const kvDir = Deno.makeTempDirSync();

/** When each Chatwoot message POST arrived, by source_id; and the order per conversation. */
const arrivedAtChatwoot = new Map<string, number>();
chatwoot.intercept = (call) => {
  const sourceId = (call.body as { source_id?: string } | undefined)?.source_id;
  if (call.method === "POST" && sourceId && call.route.endsWith("/messages")) {
    arrivedAtChatwoot.set(sourceId, performance.now());
  }
  return undefined;
};
/** When each Discord message POST arrived, by its content. */
const arrivedAtDiscord = new Map<string, number>();
discord.observe = (method, path, body, at) => {
  const content = (body as { content?: string } | undefined)?.content;
  if (method === "POST" && /^\/channels\/\d+\/messages$/.test(path) && content) {
    arrivedAtDiscord.set(content, at);
  }
};

function startBridge(env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    // The flags of `deno task start` (deno.json is their one home), plus any for profiling.
    args: [
      "run",
      ...START_FLAGS,
      ...(Deno.env.get("BENCH_BRIDGE_FLAGS")?.split(" ").filter(Boolean) ?? []),
      "--config",
      DENO_JSON,
      MAIN,
      "serve",
    ],
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    cwd: kvDir,
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

const env = (kvName: string, extra: Record<string, string> = {}) =>
  fakeEnv(discord, chatwoot, {
    KV_PATH: `${kvDir}/${kvName}.kv`,
    WEBHOOK_PORT: String(port),
    GREETING_ENABLED: "false",
    LOG_LEVEL: "error",
    ...extra,
  });
chatwoot.webhookUrl = `http://127.0.0.1:${port}/webhook`;

async function healthyAfter(started: number): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.body?.cancel();
      if (res.status === 200) return performance.now() - started;
    } catch { /* not listening yet */ }
    if (performance.now() - started > 20_000) throw new Error("the bridge did not become healthy");
    await sleep(5);
  }
}

async function stopBridge(child: Deno.ChildProcess) {
  child.kill("SIGTERM");
  await child.stderr.cancel();
  await child.status;
}

// ---------------------------------------------------------------- start-up

const startups: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const child = startBridge(env(`startup${i}`));
  startups.push(await healthyAfter(t0));
  await stopBridge(child);
  await until(() => discord.connectedSessions === 0, 5000);
}
const startup = [...startups].sort((a, b) => a - b)[1];
row(
  "start-up to /healthz 200 (median of 3)",
  `${startup.toFixed(0)} ms`,
  "≤ 1500 ms",
  startup <= 1500,
);

let bridge = startBridge(env("main"));
await healthyAfter(performance.now());
await sleep(2000);
const idleRss = rssMiB(bridge.pid);
const idleParts = rssParts(bridge.pid);
row("RSS idle", `${idleRss.toFixed(1)} MiB`, "≤ 60 MiB", idleRss <= 60);

// ---------------------------------------------------------------- API calls per message

const chatwootCalls = () => chatwoot.calls.filter((c) => !c.route.endsWith("/inboxes/{id}")).length;
const discordCalls = () => discord.requests.length;
async function dmAndSettle(userId: string) {
  const before = chatwootCalls();
  const { messageId } = discord.sendDm({ userId, content: `hello ${snowflake()}` });
  await until(() => arrivedAtChatwoot.has(messageId), 5000);
  await until(() => discord.reactions.some((r) => r.messageId === messageId), 5000);
  await sleep(100);
  return chatwootCalls() - before;
}
const probeUser = "800000000000000001";
const firstDm = await dmAndSettle(probeUser);
const laterDm = await dmAndSettle(probeUser);
row("Chatwoot calls, first-contact DM", String(firstDm), "≤ 3", firstDm <= 3);
row("Chatwoot calls, later DM", String(laterDm), "= 1", laterDm === 1);
const probeConversation = chatwoot.messages.at(-1)!.conversation_id;
async function replyAndCount(text: string) {
  const before = discordCalls();
  await chatwoot.deliver(chatwoot.agentReply(probeConversation, text));
  await until(() => arrivedAtDiscord.has(text), 5000);
  await sleep(100);
  return discordCalls() - before;
}
const firstReply = await replyAndCount(`first reply ${snowflake()}`);
const laterReply = await replyAndCount(`later reply ${snowflake()}`);
row("Discord calls, first agent reply", String(firstReply), "(opens the DM channel)", undefined);
row("Discord calls, later agent reply", String(laterReply), "= 1", laterReply === 1);

// ---------------------------------------------------------------- latency at 20 msg/s

const latencyUsers = Array.from(
  { length: 20 },
  (_, i) => `8100000000000000${String(i).padStart(2, "0")}`,
);
for (const u of latencyUsers) await dmAndSettle(u); // tickets and DM channels exist
const conversationOf = new Map(
  latencyUsers.map((u) => {
    const contact = chatwoot.contacts.find((c) => c.identifier === `discord:${u}`)!;
    return [u, chatwoot.conversations.find((c) => c.contact_id === contact.id)!.id];
  }),
);
for (const u of latencyUsers) {
  await replyAndCount(`warm ${u}`); // opens every DM channel once
}

async function inboundLatency(count: number): Promise<number[]> {
  const sent: { id: string; at: number }[] = [];
  for (let i = 0; i < count; i++) {
    const at = performance.now();
    sent.push({
      id: discord.sendDm({ userId: latencyUsers[i % 20], content: `lat ${i}` }).messageId,
      at,
    });
    await sleep(50);
  }
  await until(() => sent.every((s) => arrivedAtChatwoot.has(s.id)), 10_000);
  return sent.map((s) => arrivedAtChatwoot.get(s.id)! - s.at);
}

async function outboundLatency(count: number): Promise<number[]> {
  const sent: { text: string; at: number }[] = [];
  for (let i = 0; i < count; i++) {
    const user = latencyUsers[i % 20];
    const text = `out ${snowflake()}`;
    const payload = chatwoot.agentReply(conversationOf.get(user)!, text);
    const at = performance.now();
    await chatwoot.deliver(payload);
    sent.push({ text, at });
    await sleep(Math.max(0, 50 - (performance.now() - at)));
  }
  await until(() => sent.every((s) => arrivedAtDiscord.has(s.text)), 10_000);
  return sent.map((s) => arrivedAtDiscord.get(s.text)! - s.at);
}

const fmt = (p: ReturnType<typeof percentiles>) =>
  `p50 ${p.p50.toFixed(2)} / p95 ${p.p95.toFixed(2)} / p99 ${p.p99.toFixed(2)} / max ${
    p.max.toFixed(2)
  } ms`;
for (const delay of [0, 50]) {
  chatwoot.delayMs = delay;
  discord.delayMs = delay;
  const inbound = percentiles(await inboundLatency(100));
  const outbound = percentiles(await outboundLatency(100));
  const instant = delay === 0;
  row(
    `inbound latency, 20 msg/s, fakes +${delay} ms`,
    fmt(inbound),
    instant ? "p50 ≤ 1.5, p99 ≤ 5 ms" : "",
    instant ? inbound.p50 <= 1.5 && inbound.p99 <= 5 : undefined,
  );
  row(
    `outbound latency, 20 msg/s, fakes +${delay} ms`,
    fmt(outbound),
    instant ? "p50 ≤ 1.5, p99 ≤ 5 ms" : "",
    instant ? outbound.p50 <= 1.5 && outbound.p99 <= 5 : undefined,
  );
}
chatwoot.delayMs = 0;
discord.delayMs = 0;
await stopBridge(bridge);

// ---------------------------------------------------------------- inbound throughput ramp

bridge = startBridge(env("ramp"));
await healthyAfter(performance.now());
const users = Array.from({ length: USERS }, (_, i) => `9${String(i).padStart(17, "0")}`);
{
  // First contacts, paced, so the ramp measures steady state.
  const warm: string[] = [];
  for (let i = 0; i < users.length; i++) {
    warm.push(discord.sendDm({ userId: users[i], content: "first" }).messageId);
    if (i % 20 === 19) await sleep(50);
  }
  if (!await until(() => warm.every((id) => arrivedAtChatwoot.has(id)), 60_000)) {
    throw new Error("first contacts did not all arrive");
  }
}
const sentOrder = new Map<string, string[]>();
let highestSustained = 0;
let peakRss = 0; // during the step being run
let peakRss800 = 0; // during the 800/s step
for (const rate of RAMP) {
  const ids: string[] = [];
  peakRss = 0;
  let u = 0;
  const stepStart = performance.now();
  let rssSample = performance.now();
  while (performance.now() - stepStart < STEP_SECONDS * 1000) {
    // Send what is owed by now at this rate (timers are late; the rate must not be).
    const owed = Math.floor(((performance.now() - stepStart) / 1000) * rate) - ids.length;
    for (let k = 0; k < owed; k++) {
      const userId = users[u++ % USERS];
      const id = discord.sendDm({ userId, content: `r${rate} ${ids.length}` }).messageId;
      ids.push(id);
      sentOrder.set(userId, [...(sentOrder.get(userId) ?? []), id]);
    }
    if (performance.now() - rssSample > 250) {
      peakRss = Math.max(peakRss, rssMiB(bridge.pid));
      rssSample = performance.now();
    }
    await sleep(10);
  }
  const stepEnd = performance.now();
  const backlogAtEnd = ids.filter((id) => !arrivedAtChatwoot.has(id)).length;
  const sustained = await until(() => arrivedIn(ids) === ids.length, 2000);
  peakRss = Math.max(peakRss, rssMiB(bridge.pid));
  const actualRate = ids.length / ((stepEnd - stepStart) / 1000);
  if (!sustained) {
    // Not sustained: let it drain (bounded) to check that nothing is lost.
    const drained = await until(() => arrivedIn(ids) === ids.length, 120_000);
    row(
      `inbound ${rate} msg/s × ${STEP_SECONDS} s`,
      `sent ${actualRate.toFixed(0)}/s, backlog ${backlogAtEnd} at step end, not drained in 2 s; ${
        drained ? "all delivered later" : "LOST SOME"
      }`,
      "",
      undefined,
    );
    break;
  }
  highestSustained = rate;
  if (rate === 800) peakRss800 = peakRss;
  row(
    `inbound ${rate} msg/s × ${STEP_SECONDS} s`,
    `sustained (sent ${
      actualRate.toFixed(0)
    }/s, backlog ${backlogAtEnd} at step end, 0 within 2 s)`,
    "",
    undefined,
  );
}
// Per-user order: every user's messages reached Chatwoot in the order they were sent.
let outOfOrder = 0;
for (const [, ids] of sentOrder) {
  const times = ids.map((id) => arrivedAtChatwoot.get(id) ?? Infinity);
  for (let i = 1; i < times.length; i++) if (times[i] < times[i - 1]) outOfOrder++;
}
const lost = [...sentOrder.values()].flat().filter((id) => !arrivedAtChatwoot.has(id)).length;
row(
  "inbound sustained (1,000 users, durability on)",
  `${highestSustained} msg/s; lost ${lost}; out of order ${outOfOrder}`,
  "≥ 1600 msg/s, 0 lost, order kept",
  highestSustained >= 1600 && lost === 0 && outOfOrder === 0,
);
row(
  "RSS during the 800/s step (peak)",
  peakRss800 ? `${peakRss800.toFixed(1)} MiB` : "step not sustained",
  "≤ 130 MiB",
  peakRss800 > 0 && peakRss800 <= 130,
);

// ---------------------------------------------------------------- a DM flood while agents reply

{
  // 100 DMs/s for 8 s from the ramp's users (each ✅ is a Discord request: the fake enforces
  // 50/s), while agents reply at 20/s to 20 other users. Replies must not wait behind the flood.
  const floodIds: string[] = [];
  const replies: { text: string; at: number }[] = [];
  const global429sBefore = discord.global429s;
  const repliedUsers = users.slice(500, 520);
  const conversationOfUser = (user: string) => {
    const contact = chatwoot.contacts.find((c) => c.identifier === `discord:${user}`)!;
    return chatwoot.conversations.find((c) => c.contact_id === contact.id)!.id;
  };
  const floodStart = performance.now();
  let u = 0;
  let nextReplyAt = floodStart;
  while (performance.now() - floodStart < STEP_SECONDS * 1000) {
    const owed = Math.floor(((performance.now() - floodStart) / 1000) * 100) - floodIds.length;
    for (let k = 0; k < owed; k++) {
      floodIds.push(discord.sendDm({ userId: users[u++ % 400], content: `flood ${u}` }).messageId);
    }
    while (performance.now() >= nextReplyAt) {
      const text = `mixed ${snowflake()}`;
      const user = repliedUsers[replies.length % repliedUsers.length];
      const at = performance.now();
      void chatwoot.deliver(chatwoot.agentReply(conversationOfUser(user), text));
      replies.push({ text, at });
      nextReplyAt += 50;
    }
    await sleep(5);
  }
  const floodEnd = performance.now();
  const floodIn = await until(() => arrivedIn(floodIds) === floodIds.length, 2000);
  await until(() => replies.every((r) => arrivedAtDiscord.has(r.text)), 30_000);
  const replyLatency = percentiles(
    replies.map((r) => (arrivedAtDiscord.get(r.text) ?? Infinity) - r.at),
  );
  const global429s = discord.global429s - global429sBefore;
  row(
    "agent replies at 20/s during a 100 DMs/s flood",
    `${fmt(replyLatency)}; global 429s: ${global429s}`,
    "p95 ≤ 250 ms, 0 global 429",
    replyLatency.p95 <= 250 && global429s === 0,
  );
  row(
    "flood DMs in Chatwoot within 2 s of the flood's end",
    floodIn
      ? `all ${floodIds.length}`
      : `${arrivedIn(floodIds)} of ${floodIds.length} (${
        ((performance.now() - floodEnd) / 1000).toFixed(1)
      } s after)`,
    "all",
    floodIn,
  );
}

// ---------------------------------------------------------------- outbound at the global limit

{
  // A burst well above 50/s, one reply to each of 400 users: it must drain at the limit,
  // provoke no global 429, and lose nothing.
  const burst = 400;
  const texts: string[] = [];
  const global429sBefore = discord.global429s;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: burst }, async (_, i) => {
    const text = `burst ${i} ${snowflake()}`;
    texts.push(text);
    const contact = chatwoot.contacts.find((c) => c.identifier === `discord:${users[i]}`)!;
    const conversation = chatwoot.conversations.find((c) => c.contact_id === contact.id)!;
    await chatwoot.deliver(chatwoot.agentReply(conversation.id, text));
  }));
  const drained = await until(() => texts.every((t) => arrivedAtDiscord.has(t)), 60_000);
  const arrivals = texts.map((t) => arrivedAtDiscord.get(t) ?? Infinity).sort((a, b) => a - b);
  const seconds = (arrivals[arrivals.length - 1] - t0) / 1000;
  // Sustained: from the first reply at Discord to the last (the webhooks' own intake apart).
  const rate = (burst - 1) / ((arrivals[arrivals.length - 1] - arrivals[0]) / 1000);
  const global429s = discord.global429s - global429sBefore;
  row(
    `outbound burst of ${burst} replies (fake enforces 50 req/s)`,
    `${drained ? "all delivered" : "LOST SOME"} ${seconds.toFixed(1)} s after the webhooks; ${
      rate.toFixed(1)
    }/s sustained, global 429s: ${global429s}`,
    "≥ 47.5/s (95 % of the limit), 0 global 429, nothing lost",
    drained && global429s === 0 && rate >= 47.5,
  );
}
// Memory a minute after the load: what the load left behind.
await sleep(60_000);
const afterRss = rssMiB(bridge.pid);
row(
  "RSS one minute after the load",
  `${afterRss.toFixed(1)} MiB (${rssParts(bridge.pid)}); idle ${idleRss.toFixed(1)} (${idleParts})`,
  "within 20 % of idle",
  afterRss <= idleRss * 1.2,
);
await stopBridge(bridge);
await discord.close();
await chatwoot.close();

// ---------------------------------------------------------------- report

const w1 = Math.max(...rows.map((r) => r.metric.length));
const w2 = Math.max(...rows.map((r) => r.value.length));
const w3 = Math.max(...rows.map((r) => r.target.length));
console.log(
  `\n| ${"metric".padEnd(w1)} | ${"measured".padEnd(w2)} | ${"target".padEnd(w3)} | met |`,
);
console.log(`|${"-".repeat(w1 + 2)}|${"-".repeat(w2 + 2)}|${"-".repeat(w3 + 2)}|-----|`);
for (const r of rows) {
  const met = r.met === undefined ? "" : r.met ? "yes" : "NO";
  console.log(
    `| ${r.metric.padEnd(w1)} | ${r.value.padEnd(w2)} | ${r.target.padEnd(w3)} | ${
      met.padEnd(3)
    } |`,
  );
}
const missed = rows.filter((r) => r.met === false).length;
console.log(`\n${rows.filter((r) => r.met).length} targets met, ${missed} missed`);
