/**
 * The mailbox's lease interleavings, one by one, at unit level: a lease lost
 * mid-item, takeovers after a crash, a checkpoint seen by the retry, a stop
 * during an item, and an append taking the lease while a drain here ends.
 * The real Mailboxes on a `:memory:` KV (tests/helpers/mailbox_instances.ts),
 * a clock the test moves by hand where a lease must run out, millisecond
 * leases, and a handler the test holds open to place a takeover or a stop
 * exactly where it wants it.
 *
 * What is asserted is what KV and the handlers saw (items left, lease and
 * pending marker, records written), not what the mailbox says about itself.
 */
import { ChatwootFailure } from "./helpers/service_failures.ts";
import assert from "node:assert/strict";
import type { MailboxEntry } from "../src/jobs/mailbox.ts";
import { keys } from "../src/store/keys.ts";
import { interceptCommits } from "./helpers/kv_commits.ts";
import {
  append,
  type Attempt,
  EMPTY,
  instance,
  LEASE_MS,
  leftInKv,
  MAILBOX,
  USER,
} from "./helpers/mailbox_instances.ts";

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

Deno.test("checkpoint: the progress a handler saved is what its retry sees", async () => {
  using kv = await Deno.openKv(":memory:");
  const attempts: Attempt[] = [];
  const a = instance(kv, "a", attempts, async (entry, checkpoint) => {
    const sent = (entry.progress.sent as string[] | undefined) ?? [];
    if (entry.item !== "long message") return;
    if (sent.length === 0) {
      await checkpoint({ sent: ["part 1"] });
      throw new ChatwootFailure(503);
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
    if (failures-- > 0) return Promise.reject(new ChatwootFailure(503));
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
