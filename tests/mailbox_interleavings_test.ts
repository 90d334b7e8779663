/**
 * The mailbox's interleavings, one by one, at unit level: the real Mailboxes
 * on a `:memory:` KV, a clock the test moves by hand where a lease must run
 * out, millisecond leases, and a handler the test holds open to place an
 * append, a takeover or a stop exactly where it wants it.
 *
 * What is asserted is what KV and the handlers saw (items left, lease and
 * pending marker, records written), not what the mailbox says about itself.
 */
import { interceptCommits } from "./helpers/kv_commits.ts";
import assert from "node:assert/strict";
import { ServiceError } from "../src/bridge/errors.ts";
import {
  type AttemptContext,
  type CompletionRecord,
  type MailboxEntry,
  Mailboxes,
  type MailboxOptions,
} from "../src/jobs/mailbox.ts";
import type { Wakeups } from "../src/jobs/wakeups.ts";
import { silentLogger } from "../src/log.ts";
import { keys } from "../src/store/keys.ts";

const USER = "650000000000000777";
const MAILBOX = { dir: "in", userId: USER } as const;
const LEASE_MS = 50;

class ChatwootDown extends ServiceError {
  readonly service = "chatwoot" as const;
  readonly status = 503;
}

/** A clock that moves only when the test says so. */
function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/**
 * Wake-ups that never arrive (as when a process dies with its timers): an item
 * is then found only by the drains' own bookkeeping, which is what is tested.
 */
function lostWakeups(): Wakeups {
  return { mode: "inline", later: () => Promise.resolve(), listen() {}, close() {} };
}

interface Attempt {
  by: string;
  item: unknown;
  firstAttempt: boolean;
  progress: Record<string, unknown>;
}

type InHandler = (
  entry: MailboxEntry,
  checkpoint: (progress: Record<string, unknown>) => Promise<void>,
  context: AttemptContext,
) => Promise<void | CompletionRecord[]>;

/** One instance of the bridge's mailboxes, recording every attempt it makes. */
function instance(
  kv: Deno.Kv,
  name: string,
  attempts: Attempt[],
  handler: InHandler = () => Promise.resolve(),
  extra: Partial<MailboxOptions> = {},
): Mailboxes {
  const mailboxes = new Mailboxes({
    kv,
    instanceId: name,
    wakeups: lostWakeups(),
    log: silentLogger,
    leaseMs: LEASE_MS,
    retryDelayMs: () => 5,
    handlers: {
      in: (_user, entry, checkpoint, context) => {
        attempts.push({
          by: name,
          item: entry.item,
          firstAttempt: context.firstAttempt,
          progress: entry.progress,
        });
        return handler(entry, checkpoint, context);
      },
      out: () => Promise.resolve(),
    },
    ...extra,
  });
  mailboxes.listen();
  return mailboxes;
}

function append(mailboxes: Mailboxes, ...items: [bigint, string][]) {
  return mailboxes.append({ ...MAILBOX, items: items.map(([seq, item]) => ({ seq, item })) });
}

/** What the mailbox left in KV: its items (in order), its lease and its pending marker. */
async function leftInKv(kv: Deno.Kv) {
  const items: unknown[] = [];
  for await (const e of kv.list<MailboxEntry>({ prefix: keys.mailbox(MAILBOX.dir, USER) })) {
    items.push(e.value.item);
  }
  const [lease, pending] = await kv.getMany<[{ owner: string }, unknown]>([
    keys.lease(MAILBOX.dir, USER),
    keys.pending(MAILBOX.dir, USER),
  ]);
  return { items, leaseOwner: lease.value?.owner ?? null, pending: pending.versionstamp !== null };
}

const EMPTY = { items: [], leaseOwner: null, pending: false };

const itemsOf = (attempts: Attempt[]) => attempts.map((a) => a.item);

Deno.test("lease lost mid-item: nothing the first drain writes lands, and the second drain looks first (firstAttempt=false)", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = manualClock();
  const attempts: Attempt[] = [];
  const aWaits = Promise.withResolvers<void>();
  const aHolds = Promise.withResolvers<void>();
  const bWaits = Promise.withResolvers<void>();
  const bHolds = Promise.withResolvers<void>();
  let aCheckpointAfterTakeover: unknown = "not tried";
  let aSignal: AbortSignal | undefined;
  // A stalls (its renewals do not run) while its handler is in the middle of the item.
  const a = instance(kv, "a", attempts, async (_entry, checkpoint, context) => {
    aSignal = context.signal;
    await checkpoint({ step: "posted part 1" });
    aHolds.resolve();
    await aWaits.promise;
    aCheckpointAfterTakeover = await checkpoint({ step: "from a, after the takeover" })
      .then(() => "landed", (error) => error);
    return [{ key: ["test_record", "a"], value: "a finished" }, { followUp: "follow-up of a" }];
  }, { now: clock.now, leaseRenewEveryMs: 3_600_000 });
  const b = instance(kv, "b", attempts, async () => {
    bHolds.resolve();
    await bWaits.promise;
    return [{ key: ["test_record", "b"], value: "b finished" }];
  }, { now: clock.now });

  await append(a, [1n, "dm"]);
  await aHolds.promise;
  clock.advance(LEASE_MS + 1); // A's lease runs out: B takes the mailbox over
  b.wake(MAILBOX);
  await bHolds.promise;

  aWaits.resolve();
  await a.idle();
  assert.equal(aSignal?.aborted, true, "A's handler is told to start no further side effect");
  assert.ok(aCheckpointAfterTakeover instanceof Error, "A's checkpoint after the takeover fails");
  assert.deepEqual(
    (await kv.get<MailboxEntry>(keys.mailboxItem("in", USER, [1n]))).value?.progress,
    { step: "posted part 1" },
    "the item keeps the progress saved before the takeover, not A's later one",
  );
  assert.equal((await kv.get(["test_record", "a"])).versionstamp, null, "A's record");
  assert.deepEqual(await leftInKv(kv), { items: ["dm"], leaseOwner: "b", pending: true });

  bWaits.resolve();
  await b.idle();
  assert.deepEqual(attempts, [
    { by: "a", item: "dm", firstAttempt: true, progress: {} },
    { by: "b", item: "dm", firstAttempt: false, progress: { step: "posted part 1" } },
  ]);
  assert.equal((await kv.get(["test_record", "b"])).value, "b finished");
  assert.equal((await kv.get(["test_record", "a"])).versionstamp, null, "A's record, ever");
  assert.deepEqual(await leftInKv(kv), EMPTY, "A's follow-up never landed either");
  await Promise.all([a.stop(), b.stop()]);
});

for (const how of ["wake", "sweep", "append"] as const) {
  Deno.test(`takeover after a crash (${how}): only the head item may have been tried`, async () => {
    using kv = await Deno.openKv(":memory:");
    const clock = manualClock();
    const attempts: Attempt[] = [];
    // A process appended three items, started draining and was killed: its lease record stays.
    const killed = instance(kv, "killed", attempts, undefined, { now: clock.now });
    await killed.stop(0);
    await append(killed, [1n, "one"], [2n, "two"], [3n, "three"]);
    await kv.set(keys.lease("in", USER), { owner: "killed", expiresAt: clock.now() + LEASE_MS });
    clock.advance(LEASE_MS + 1);

    const next = instance(kv, "next", attempts, undefined, { now: clock.now });
    if (how === "wake") next.wake(MAILBOX);
    if (how === "sweep") assert.equal(await next.sweep(), 1);
    if (how === "append") await append(next, [4n, "four"]);
    await next.idle();
    assert.deepEqual(
      attempts.map((a) => [a.item, a.firstAttempt]),
      [
        ["one", false],
        ["two", true],
        ["three", true],
        ...(how === "append" ? [["four", true]] : []),
      ],
    );
    assert.deepEqual(await leftInKv(kv), EMPTY);
    await next.stop();
  });
}

Deno.test("appends during a drain (from this instance and another): all processed in order, none stranded, nothing left in KV", async () => {
  using kv = await Deno.openKv(":memory:");
  const attempts: Attempt[] = [];
  const firstRuns = Promise.withResolvers<void>();
  const firstMayEnd = Promise.withResolvers<void>();
  const a = instance(kv, "a", attempts, async (entry) => {
    if (entry.item !== "1") return;
    firstRuns.resolve();
    await firstMayEnd.promise;
  });
  const other = instance(kv, "other", attempts);
  await append(a, [1n, "1"], [2n, "2"], [3n, "3"]);
  await firstRuns.promise;
  // While item 1's handler runs: this instance appends, and another instance (which cannot
  // drain, the lease is held; its wake-ups are lost) appends too.
  await append(a, [4n, "4"]);
  await append(other, [5n, "5"]);
  await append(other, [6n, "6"]);
  firstMayEnd.resolve();
  await Promise.all([a.idle(), other.idle()]);
  assert.deepEqual(itemsOf(attempts), ["1", "2", "3", "4", "5", "6"]);
  assert.ok(attempts.every((x) => x.by === "a"), "the drain holding the lease found them all");
  assert.deepEqual(await leftInKv(kv), EMPTY);
  await Promise.all([a.stop(), other.stop()]);
});

Deno.test("an append landing between an empty listing and the drain's closing commit is still processed", async () => {
  using real = await Deno.openKv(":memory:");
  const attempts: Attempt[] = [];
  const other = instance(real, "other", attempts);
  let appended = false;
  // The drain's listing comes back empty; right after it, another instance appends.
  const kv = afterEachListing(real, async (prefix, count) => {
    const ofThisMailbox = JSON.stringify(prefix) === JSON.stringify(keys.mailbox("in", USER));
    if (!ofThisMailbox || count > 0 || appended) return;
    appended = true;
    await append(other, [2n, "appended after the listing"]);
  });
  // The first item fails for good (one attempt allowed): the drain lists again and finds nothing.
  const a = instance(kv, "a", attempts, (entry) => {
    if (entry.item === "poison") return Promise.reject(new TypeError("a bug"));
    return Promise.resolve();
  }, { maxItemFailures: 1 });
  await append(a, [1n, "poison"]);
  await Promise.all([a.idle(), other.idle()]);
  assert.ok(appended, "the append happened after an empty listing");
  assert.deepEqual(attempts.map((x) => [x.by, x.item]), [
    ["a", "poison"],
    ["a", "appended after the listing"],
  ]);
  assert.deepEqual(await leftInKv(real), EMPTY);
  await Promise.all([a.stop(), other.stop()]);
});

Deno.test("checkpoint: the progress a handler saved is what its retry sees", async () => {
  using kv = await Deno.openKv(":memory:");
  const attempts: Attempt[] = [];
  const a = instance(kv, "a", attempts, async (entry, checkpoint) => {
    const sent = (entry.progress.sent as string[] | undefined) ?? [];
    if (entry.item !== "long message") return;
    if (sent.length === 0) {
      await checkpoint({ sent: ["part 1"] });
      throw new ChatwootDown("Chatwoot answered 503");
    }
    if (sent.length === 1) {
      await checkpoint({ sent: ["part 1", "part 2"] });
      throw new TypeError("a bug after part 2");
    }
  });
  await append(a, [1n, "long message"], [2n, "next"]);
  for (let retry = 0; retry < 2; retry++) {
    await a.idle();
    a.wake(MAILBOX); // the retry's wake-up, without waiting for its delay
  }
  await a.idle();
  assert.deepEqual(attempts.map((x) => [x.item, x.firstAttempt, x.progress]), [
    ["long message", true, {}],
    ["long message", false, { sent: ["part 1"] }],
    ["long message", false, { sent: ["part 1", "part 2"] }],
    ["next", true, {}],
  ]);
  assert.deepEqual(await leftInKv(kv), EMPTY);
  assert.equal((await kv.get(keys.retry("in", USER))).versionstamp, null, "no retry record left");
  await a.stop();
});

Deno.test("the last item's closing commit fails on an append racing it, and the new item is still processed", async () => {
  using kv = await Deno.openKv(":memory:");
  const attempts: Attempt[] = [];
  const lastRuns = Promise.withResolvers<void>();
  const lastMayEnd = Promise.withResolvers<void>();
  const a = instance(kv, "a", attempts, async (entry) => {
    if (entry.item !== "last") return;
    lastRuns.resolve();
    await lastMayEnd.promise;
    return [{ key: ["test_record", "last"], value: "done" }];
  });
  const other = instance(kv, "other", attempts);
  await append(a, [1n, "last"]);
  await lastRuns.promise;
  await append(other, [2n, "raced"]); // the only drain that can see it is the one running
  lastMayEnd.resolve();
  await a.idle();
  assert.deepEqual(attempts.map((x) => [x.by, x.item]), [["a", "last"], ["a", "raced"]]);
  assert.equal((await kv.get(["test_record", "last"])).value, "done", "the first item's record");
  assert.deepEqual(await leftInKv(kv), EMPTY);
  await Promise.all([a.stop(), other.stop()]);
});

Deno.test("follow-ups go to the user's other mailbox in the item's commit, in order, and are processed there", async () => {
  using kv = await Deno.openKv(":memory:");
  const followUps: Record<string, string[]> = { "1": ["1a", "1b"], "1a": ["1a-i"], "2": ["2a"] };
  const seen: { in: string[]; out: string[] } = { in: [], out: [] };
  const handler = (dir: "in" | "out") => (_user: string, entry: MailboxEntry) => {
    const item = String(entry.item);
    seen[dir].push(item);
    return Promise.resolve([
      { key: ["test_record", item], value: true },
      ...(followUps[item] ?? []).map((followUp) => ({ followUp })),
    ]);
  };
  const a = new Mailboxes({
    kv,
    instanceId: "a",
    wakeups: lostWakeups(),
    log: silentLogger,
    leaseMs: LEASE_MS,
    handlers: { in: handler("in"), out: handler("out") },
  });
  await append(a, [1n, "1"], [2n, "2"], [3n, "3"]);
  const end = Date.now() + 2_000;
  while (seen.in.length + seen.out.length < 7 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 5));
  }
  await a.idle();
  assert.deepEqual(seen.in, ["1", "2", "3", "1a-i"]);
  assert.deepEqual(seen.out, ["1a", "1b", "2a"]);
  for (const item of [...seen.in, ...seen.out]) {
    assert.equal((await kv.get(["test_record", item])).value, true, `record of ${item}`);
  }
  assert.deepEqual(await leftInKv(kv), EMPTY);
  const [outLease, outPending] = await kv.getMany([
    keys.lease("out", USER),
    keys.pending("out", USER),
  ]);
  assert.deepEqual([outLease.versionstamp, outPending.versionstamp], [null, null]);
  await a.stop();
});

Deno.test("two instances appending to and draining one mailbox at once: every item exactly once, in order", async () => {
  using kv = await Deno.openKv(":memory:");
  const attempts: Attempt[] = [];
  const slow = () => new Promise<void>((r) => setTimeout(r, Math.random() < 0.3 ? 1 : 0));
  const options = { leaseMs: 1_000 }; // long enough that no takeover happens while both live
  const a = instance(kv, "a", attempts, slow, options);
  const b = instance(kv, "b", attempts, slow, options);
  const sent: string[] = [];
  for (let i = 1; i <= 60; i++) {
    // Every tenth append lets the drains finish first, and alternates who starts the next one.
    if (i % 10 === 1) await Promise.all([a.idle(), b.idle()]);
    const aFirst = i % 10 === 1 ? i % 20 === 1 : Math.random() < 0.5;
    const [by, other] = aFirst ? [a, b] : [b, a];
    const item = `m${i}`;
    sent.push(item);
    await append(by, [BigInt(i), item]);
    if (i % 7 === 0) other.wake(MAILBOX); // the other one's sweep, now and then
    if (i % 5 === 0) await slow();
  }
  const end = Date.now() + 3_000;
  while (attempts.length < sent.length && Date.now() < end) {
    await Promise.all([a.idle(), b.idle()]);
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(itemsOf(attempts), sent, "each once, in order (no wake-up helped)");
  assert.ok(attempts.every((x) => x.firstAttempt), "no takeover");
  assert.ok(new Set(attempts.map((x) => x.by)).size === 2, "both instances drained");
  assert.deepEqual(await leftInKv(kv), EMPTY);
  await Promise.all([a.stop(), b.stop()]);
});

Deno.test("stop() while a handler runs past its wait: the item is kept, and the next instance does it (looking first)", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = manualClock();
  const attempts: Attempt[] = [];
  const posted: string[] = [];
  const running = Promise.withResolvers<void>();
  const mayGoOn = Promise.withResolvers<void>();
  let aSignal: AbortSignal | undefined;
  const a = instance(kv, "a", attempts, async (entry, _checkpoint, context) => {
    aSignal = context.signal;
    running.resolve();
    await mayGoOn.promise; // e.g. a large attachment still downloading
    context.signal.throwIfAborted(); // as every handler does before its side effect
    posted.push(`a:${entry.item}`);
  }, { now: clock.now });
  await append(a, [1n, "dm"], [2n, "later"]);
  await running.promise;
  await a.stop(5);
  assert.equal(aSignal?.aborted, true, "the handler is told to start no further side effect");
  assert.deepEqual(
    await leftInKv(kv),
    { items: ["dm", "later"], leaseOwner: "a", pending: true },
    "the item is kept; the lease is left to run out (so the next drain looks first)",
  );

  clock.advance(LEASE_MS + 1); // no renewal moved it on
  const next = instance(kv, "next", attempts, (entry) => {
    posted.push(`next:${entry.item}`);
    return Promise.resolve();
  }, { now: clock.now });
  next.wake(MAILBOX);
  await next.idle();
  mayGoOn.resolve();
  await a.idle();
  assert.deepEqual(attempts.map((x) => [x.by, x.item, x.firstAttempt]), [
    ["a", "dm", true],
    ["next", "dm", false],
    ["next", "later", true],
  ]);
  assert.deepEqual(posted, ["next:dm", "next:later"]);
  assert.deepEqual(await leftInKv(kv), EMPTY);
  await next.stop();
});

Deno.test("stop() while a handler runs within its wait: the item is finished, not repeated", async () => {
  using kv = await Deno.openKv(":memory:");
  const attempts: Attempt[] = [];
  const running = Promise.withResolvers<void>();
  const a = instance(kv, "a", attempts, async () => {
    running.resolve();
    await new Promise((r) => setTimeout(r, 20));
  });
  await append(a, [1n, "dm"], [2n, "later"]);
  await running.promise;
  await a.stop(1_000);
  assert.deepEqual(await leftInKv(kv), { items: ["later"], leaseOwner: null, pending: true });
  const next = instance(kv, "next", attempts);
  assert.equal(await next.sweep(), 1);
  await next.idle();
  assert.deepEqual(attempts.map((x) => [x.by, x.item, x.firstAttempt]), [
    ["a", "dm", true],
    ["next", "later", true],
  ]);
  await next.stop();
});

Deno.test("an append takes the lease while a drain here is finishing: the drain that follows uses that lease", async () => {
  using real = await Deno.openKv(":memory:");
  const clock = manualClock();
  const attempts: Attempt[] = [];
  const { kv, holdNextCommit } = heldCommits(real);
  let failures = 1;
  const a = instance(kv, "a", attempts, () => {
    if (failures-- > 0) return Promise.reject(new ChatwootDown("Chatwoot answered 503"));
    return Promise.resolve();
  }, { now: clock.now });
  await append(a, [1n, "waiting for its retry"]);
  await a.idle(); // item 1 failed; its retry's wake-up is lost

  // The append reads the lease free and commits it; meanwhile a wake-up starts a drain here
  // that read the lease free too, and whose own commit of it then fails.
  const appendCommit = holdNextCommit();
  const appending = append(a, [2n, "new"]);
  await appendCommit.reached;
  const drainCommit = holdNextCommit();
  a.wake(MAILBOX);
  await drainCommit.reached;
  appendCommit.release();
  assert.equal(await appending, true);
  drainCommit.release();
  await a.idle();
  assert.deepEqual(attempts.map((x) => [x.item, x.firstAttempt]), [
    ["waiting for its retry", true],
    ["waiting for its retry", false],
    ["new", true],
  ]);
  assert.deepEqual(await leftInKv(real), EMPTY, "not left waiting for its own lease to run out");
  await a.stop();
});

/** A KV whose next commit can be held until the test releases it. */
function heldCommits(kv: Deno.Kv) {
  const held: { reached: () => void; released: Promise<void> }[] = [];
  const wrapped = interceptCommits(kv, async (commit) => {
    const hold = held.shift();
    if (hold) {
      hold.reached();
      await hold.released;
    }
    return await commit();
  });
  return {
    kv: wrapped,
    /** Holds the next commit made; `reached` resolves when it is made. */
    holdNextCommit() {
      const reached = Promise.withResolvers<void>();
      const released = Promise.withResolvers<void>();
      held.push({ reached: reached.resolve, released: released.promise });
      return { reached: reached.promise, release: released.resolve };
    },
  };
}

/** A KV that calls `hook` after each listing completes (with the prefix and how many it found). */
function afterEachListing(
  kv: Deno.Kv,
  hook: (prefix: Deno.KvKey, count: number) => Promise<void>,
): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "list") {
        return async function* (selector: { prefix: Deno.KvKey }, options?: Deno.KvListOptions) {
          let count = 0;
          for await (const entry of target.list(selector, options)) {
            count++;
            yield entry;
          }
          await hook(selector.prefix, count);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
