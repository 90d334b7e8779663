/**
 * The mailbox's append interleavings, one by one, at unit level: appends
 * during a drain (from this instance and another), an append racing the
 * drain's last listing or its closing commit, follow-ups into the user's other
 * mailbox, and two instances appending to and draining one mailbox at once.
 * The real Mailboxes on a `:memory:` KV (tests/helpers/mailbox_instances.ts),
 * millisecond leases, and a handler the test holds open to place an append
 * exactly where it wants it.
 *
 * What is asserted is what KV and the handlers saw (items left, lease and
 * pending marker, records written), not what the mailbox says about itself.
 */
import assert from "node:assert/strict";
import { type MailboxEntry, Mailboxes } from "../src/jobs/mailbox.ts";
import { silentLogger } from "../src/log.ts";
import { keys } from "../src/store/keys.ts";
import {
  append,
  type Attempt,
  EMPTY,
  instance,
  LEASE_MS,
  leftInKv,
  lostWakeups,
  MAILBOX,
  USER,
} from "./helpers/mailbox_instances.ts";

const itemsOf = (attempts: Attempt[]) => attempts.map((a) => a.item);

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
