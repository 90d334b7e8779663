/**
 * How the mailbox treats failures by cause, and what a slow or interrupted
 * drain may and may not do (unit level: the real Mailboxes on a `:memory:` KV,
 * with injected errors, timings and a second instance).
 */
import { ChatwootFailure } from "./helpers/service_failures.ts";
import { interceptCommits } from "./helpers/kv_commits.ts";
import assert from "node:assert/strict";
import { type AttemptContext, type MailboxEntry, Mailboxes } from "../src/jobs/mailbox.ts";
import { inlineWakeups } from "../src/jobs/wakeups.ts";
import { silentLogger } from "../src/log.ts";
import { keys } from "../src/store/keys.ts";

type Handler = (entry: MailboxEntry, context: AttemptContext) => Promise<void>;

function mailboxesOn(
  kv: Deno.Kv,
  handler: Handler,
  extra: Partial<ConstructorParameters<typeof Mailboxes>[0]> = {},
) {
  const mailboxes = new Mailboxes({
    kv,
    wakeups: inlineWakeups(),
    log: silentLogger,
    retryDelayMs: () => 10,
    handlers: {
      in: (_user, entry, _checkpoint, context) => handler(entry, context),
      // Follow-ups for the user (e.g. "not delivered") land in the other mailbox.
      out: (_user, entry, _checkpoint, context) => handler(entry, context),
    },
    ...extra,
  });
  mailboxes.listen();
  return mailboxes;
}

async function until(probe: () => boolean | Promise<boolean>, what: string, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function countDead(kv: Deno.Kv) {
  let n = 0;
  for await (const _ of kv.list({ prefix: keys.allDead() })) n++;
  return n;
}

Deno.test("an outage (5xx, a refused token) waits without an attempt limit, and only that service's recovery wakes it", async () => {
  using kv = await Deno.openKv(":memory:");
  const failures = [503, 503, 503, 503, 503, 401, 401];
  let attempts = 0;
  const delivered: unknown[] = [];
  const mailboxes = mailboxesOn(kv, (entry) => {
    attempts++;
    const status = failures.shift();
    if (status) return Promise.reject(new ChatwootFailure(status));
    delivered.push(entry.item);
    return Promise.resolve();
  }, { retryDelayMs: () => 60_000, serviceAnswers: () => Promise.resolve(false) });
  await mailboxes.append({ dir: "in", userId: "u1", items: [{ seq: 1n, item: "dm" }] });
  for (let i = 1; i <= 7; i++) {
    await until(() => attempts === i, `attempt ${i}`);
    await mailboxes.idle();
    const retry = (await kv.get<{ waitingOn?: string }>(keys.retry("in", "u1"))).value;
    assert.equal(retry?.waitingOn, "chatwoot", "the mailbox records the service it waits on");
    assert.equal(await mailboxes.wakeWaitingOn("discord"), 0, "another service's recovery");
    await sleep(30);
    assert.equal(attempts, i, "not retried before its service is back");
    assert.equal(await mailboxes.wakeWaitingOn("chatwoot"), 1);
  }
  await until(() => delivered.length === 1, "delivered once Chatwoot is back");
  assert.equal(await countDead(kv), 0, "an outage never makes a dead letter");
  await mailboxes.stop();
});

for (
  const [what, poison] of [
    ["a 422 from Chatwoot", () => new ChatwootFailure(422)],
    ["an exception in our own code", () => new TypeError("x.y is not a function")],
  ] as const
) {
  Deno.test(`${what}: retried a bounded number of times, then a dead letter, its sender told, and the next item flows`, async () => {
    using kv = await Deno.openKv(":memory:");
    const seen: string[] = [];
    const mailboxes = mailboxesOn(kv, (entry) => {
      const item = entry.item as string;
      seen.push(item);
      return item === "poison" ? Promise.reject(poison()) : Promise.resolve();
    }, {
      serviceAnswers: () => Promise.resolve(true),
      tellSender: (_dir, _user, item) => [`told:${item}`],
    });
    await mailboxes.append({
      dir: "in",
      userId: "u1",
      items: [{ seq: 1n, item: "poison" }, { seq: 2n, item: "next" }],
    });
    await until(() => seen.includes("next"), "the next item");
    await mailboxes.idle();
    await until(() => seen.includes("told:poison"), "the sender told");
    assert.deepEqual(seen.slice(0, 5), Array(5).fill("poison"));
    // The notice for the user goes to the other mailbox: its order against "next" is free.
    assert.deepEqual(seen.slice(5).sort(), ["next", "told:poison"]);
    const dead = await kv.get<{ item: unknown; reason: string }>(keys.deadItem("in", "u1", [1n]));
    assert.equal(dead.value?.item, "poison");
    assert.match(dead.value?.reason ?? "", /422|not a function/);
    const stats = await mailboxes.stats();
    assert.equal(stats.depth, 0);
    assert.equal(stats.dead, 1);
    await mailboxes.stop();
  });
}

Deno.test("a server error is the item's when the service answers its check (bounded), an outage when it does not (no limit)", async () => {
  using kv = await Deno.openKv(":memory:");
  let answering = false;
  let attempts = 0;
  const mailboxes = mailboxesOn(kv, () => {
    attempts++;
    return Promise.reject(new ChatwootFailure(500));
  }, { serviceAnswers: () => Promise.resolve(answering) });
  await mailboxes.append({ dir: "in", userId: "u1", items: [{ seq: 1n, item: "x" }] });
  await until(() => attempts >= 3, "three attempts");
  await mailboxes.idle();
  // Down: it waits on Chatwoot, however often it is retried.
  for (let i = 0; i < 6; i++) {
    await mailboxes.wakeWaitingOn("chatwoot");
    await mailboxes.idle();
  }
  assert.equal(await countDead(kv), 0);
  const before = attempts;
  answering = true;
  await mailboxes.wakeWaitingOn("chatwoot");
  await until(async () => await countDead(kv) === 1, "a dead letter once Chatwoot answers");
  assert.ok(attempts - before <= 5, `at most the item's attempts (${attempts - before})`);
  await mailboxes.stop();
});

Deno.test("a slow handler keeps its lease: a second instance cannot take the mailbox over and post again", async () => {
  using kv = await Deno.openKv(":memory:");
  const posts: string[] = [];
  const handler: Handler = async (entry) => {
    await sleep(900); // e.g. a large attachment downloading, six lease lengths long
    posts.push(entry.item as string);
  };
  const a = mailboxesOn(kv, handler, { leaseMs: 150, instanceId: "a" });
  const b = mailboxesOn(kv, handler, { leaseMs: 150, instanceId: "b" });
  await a.append({ dir: "in", userId: "u1", items: [{ seq: 1n, item: "dm" }] });
  const end = Date.now() + 1100;
  while (Date.now() < end) {
    b.wake({ dir: "in", userId: "u1" });
    await sleep(50);
  }
  await Promise.all([a.idle(), b.idle()]);
  assert.deepEqual(posts, ["dm"]);
  await Promise.all([a.stop(), b.stop()]);
});

Deno.test("a drain that loses its lease stops before its next side effect and writes nothing", async () => {
  using kv = await Deno.openKv(":memory:");
  const effects: string[] = [];
  let signalSeen: AbortSignal | undefined;
  const a = mailboxesOn(kv, async (_entry, context) => {
    signalSeen = context.signal;
    effects.push("first");
    // Another process takes the lease meanwhile (as after a long stall of this one).
    await kv.set(keys.lease("in", "u1"), { owner: "other", expiresAt: Date.now() + 60_000 });
    await sleep(200);
    context.signal.throwIfAborted();
    effects.push("second");
  }, { leaseMs: 150 });
  await a.append({ dir: "in", userId: "u1", items: [{ seq: 1n, item: "dm" }] });
  await until(() => effects.length > 0, "the handler to start");
  await a.idle();
  assert.equal(signalSeen?.aborted, true);
  assert.deepEqual(effects, ["first"]);
  assert.notEqual((await kv.get(keys.mailboxItem("in", "u1", [1n]))).versionstamp, null, "kept");
  await a.stop();
});

/** A KV whose commits fail with `message` ("database is locked" by default) while `locked()`. */
function lockableKv(
  kv: Deno.Kv,
  locked: () => boolean,
  message = "database is locked",
): Deno.Kv {
  return interceptCommits(
    kv,
    (commit) => locked() ? Promise.reject(new Error(message)) : commit(),
  );
}

Deno.test("a commit failing after the side effect (database locked): the next attempt looks before posting again", async () => {
  using real = await Deno.openKv(":memory:");
  let lockedUntil = 0;
  const kv = lockableKv(real, () => Date.now() < lockedUntil);
  const posted = new Set<string>();
  const contexts: boolean[] = [];
  const mailboxes = mailboxesOn(kv, (entry, context) => {
    const id = entry.item as string;
    contexts.push(context.firstAttempt);
    if (!context.firstAttempt && posted.has(id)) return Promise.resolve(); // found: not again
    posted.add(id);
    // The database stays locked past the mailbox's own retries of the completion commit.
    lockedUntil = Date.now() + 1_000;
    return Promise.resolve();
  }, { leaseMs: 150 });
  await mailboxes.append({ dir: "in", userId: "u1", items: [{ seq: 1n, item: "dm-1" }] });
  await until(() => contexts.length === 2, "a second attempt after the lease ran out", 4000);
  await mailboxes.idle();
  assert.deepEqual(contexts, [true, false], "the second attempt knows it may have been tried");
  assert.deepEqual([...posted], ["dm-1"]);
  await until(
    async () => (await real.get(keys.mailboxItem("in", "u1", [1n]))).versionstamp === null,
    "the item finished",
  );
  await mailboxes.stop();
});

Deno.test("a drain whose lease cannot be renewed (KV unreachable) gives it up once it runs out: no side effect after", async () => {
  using real = await Deno.openKv(":memory:");
  let unreachable = false;
  const kv = failingKv(real, () => unreachable);
  let aborted: boolean | undefined;
  const mailboxes = mailboxesOn(kv, async (_entry, context) => {
    unreachable = true; // every commit from now on fails, and not with "database is locked"
    await sleep(400); // past the 150 ms lease
    aborted = context.signal.aborted;
  }, { leaseMs: 150 });
  await mailboxes.append({ dir: "in", userId: "u1", items: [{ seq: 1n, item: "dm" }] });
  await until(() => aborted !== undefined, "the handler to finish");
  assert.equal(aborted, true, "the handler learns it lost the mailbox");
  unreachable = false;
  await mailboxes.stop();
});

/** A KV whose commits fail as a remote database does when unreachable, while `down()`. */
function failingKv(kv: Deno.Kv, down: () => boolean): Deno.Kv {
  return lockableKv(kv, down, "error sending request: connection reset");
}

Deno.test("a wake-up delivered twice (or an append behind a failing item) does not retry before its time", async () => {
  using kv = await Deno.openKv(":memory:");
  let attempts = 0;
  const mailboxes = mailboxesOn(kv, (entry) => {
    if (entry.item === "later") return Promise.resolve();
    attempts++;
    return Promise.reject(new ChatwootFailure(422));
  }, { retryDelayMs: () => 400 });
  await mailboxes.append({ dir: "in", userId: "u1", items: [{ seq: 1n, item: "refused" }] });
  await until(() => attempts === 1, "the first attempt");
  await mailboxes.idle();
  for (let i = 0; i < 5; i++) mailboxes.wake({ dir: "in", userId: "u1" });
  await mailboxes.append({ dir: "in", userId: "u1", items: [{ seq: 2n, item: "later" }] });
  await mailboxes.idle();
  await sleep(100);
  assert.equal(attempts, 1, "still waiting for its retry");
  mailboxes.wake({ dir: "in", userId: "u1" }, { early: true }); // its service is back
  await until(() => attempts === 2, "an early wake-up runs it");
  await mailboxes.stop();
});
