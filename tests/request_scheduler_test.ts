/**
 * The Discord request scheduler (src/discord/request_scheduler.ts) on an
 * injected clock: when each request starts, in which order, and which
 * best-effort requests are dropped and why. No real time passes.
 */
import assert from "node:assert/strict";
import {
  type BestEffortClass,
  createRequestScheduler,
  type DropReason,
  type RequestSchedulerOptions,
  type SchedulerClock,
} from "../src/discord/request_scheduler.ts";

/** A clock that moves only when told; timers fire in time order as it moves. */
function manualClock() {
  let t = 0;
  let pending: { at: number; run: () => void; live: boolean }[] = [];
  const clock: SchedulerClock & { advance(ms: number): Promise<void>; timers(): number } = {
    now: () => t,
    setTimer(run, ms) {
      const timer = { at: t + ms, run, live: true };
      pending.push(timer);
      return () => void (timer.live = false);
    },
    async advance(ms) {
      await settled(); // what started before the clock moves is recorded at its time
      const end = t + ms;
      for (;;) {
        pending = pending.filter((p) => p.live);
        const due = pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        t = due.at;
        due.live = false;
        due.run();
        await settled();
      }
      t = end;
      await settled();
    },
    timers: () => pending.filter((p) => p.live).length,
  };
  return clock;
}

/** Lets resolved promises run (a reply starts once its `take` resolves). */
async function settled() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A scheduler at 10 requests/s (one every 100 ms) that records starts and drops. */
function setup(options: Omit<RequestSchedulerOptions, "clock" | "onDropped"> = {}) {
  const clock = manualClock();
  const started: [string, number][] = [];
  const drops: [BestEffortClass, DropReason, unknown][] = [];
  const scheduler = createRequestScheduler({
    perSecond: 10,
    ...options,
    clock,
    onDropped: (cls, reason, error) => drops.push([cls, reason, error]),
  });
  return {
    clock,
    scheduler,
    started,
    drops,
    reply(name: string) {
      void scheduler.take().then(() => started.push([name, clock.now()]));
    },
    offer(cls: BestEffortClass, name: string, send?: () => Promise<unknown>) {
      scheduler.offer(cls, () => {
        started.push([name, clock.now()]);
        return send ? send() : Promise.resolve();
      });
    },
  };
}

Deno.test("requests start evenly spaced at the budget, never two in one interval", async () => {
  const s = setup();
  for (const name of ["r1", "r2", "r3", "r4"]) s.reply(name);
  await s.clock.advance(1_000);
  assert.deepEqual(s.started, [["r1", 0], ["r2", 100], ["r3", 200], ["r4", 300]]);

  // After an idle spell the next request starts at once, and the spacing resumes from it.
  await s.clock.advance(1_234);
  s.reply("r5");
  s.reply("r6");
  await s.clock.advance(500);
  assert.deepEqual(s.started.slice(4), [["r5", 2_234], ["r6", 2_334]]);
  assert.equal(s.clock.timers(), 0, "no timer left once nothing waits");
});

Deno.test("each slot goes to replies first, then typing, then confirmations, each in arrival order", async () => {
  const s = setup();
  s.reply("r1"); // takes the free slot at 0
  s.offer("confirmation", "c1");
  s.offer("confirmation", "c2");
  s.offer("typing", "t1");
  s.reply("r2");
  s.offer("typing", "t2");
  s.reply("r3");
  await s.clock.advance(1_000);
  assert.deepEqual(s.started.map(([name]) => name), ["r1", "r2", "r3", "t1", "t2", "c1", "c2"]);
  assert.deepEqual(s.started.map(([, at]) => at), [0, 100, 200, 300, 400, 500, 600]);
  assert.deepEqual(s.drops, []);
});

Deno.test("a reply arriving behind 200 waiting confirmations takes the very next slot", async () => {
  const s = setup();
  for (let i = 0; i < 200; i++) s.offer("confirmation", `c${i}`);
  await s.clock.advance(250); // c0 at 0, c1 at 100, c2 at 200
  s.reply("reply");
  await s.clock.advance(100);
  assert.deepEqual(s.started.at(-1), ["reply", 300]);
  s.scheduler.stop();
});

Deno.test("a confirmation that waited its stale age is dropped and counted, never sent late", async () => {
  const s = setup({ confirmationStaleMs: 250, typingStaleMs: 150 });
  s.reply("r1");
  for (const name of ["c1", "c2", "c3", "c4"]) s.offer("confirmation", name);
  s.offer("typing", "t1");
  await s.clock.advance(2_000);
  // Slot 100: t1 (typing first, 100 ms old); 200: c1 (200 ms old); 300: c2..c4 are 300 ms old.
  assert.deepEqual(s.started, [["r1", 0], ["t1", 100], ["c1", 200]]);
  assert.deepEqual(s.drops.map(([cls, reason]) => [cls, reason]), [
    ["confirmation", "stale"],
    ["confirmation", "stale"],
    ["confirmation", "stale"],
  ]);

  // A typing indicator behind a reply backlog goes stale too.
  for (const name of ["r2", "r3", "r4"]) s.reply(name);
  s.offer("typing", "t2");
  await s.clock.advance(1_000);
  assert.ok(!s.started.some(([name]) => name === "t2"), "typing 150 ms old is not shown");
  assert.deepEqual(s.drops.at(-1)?.slice(0, 2), ["typing", "stale"]);
});

Deno.test("over the queue cap the oldest waiting best-effort request is dropped for the new one", async () => {
  const s = setup({ bestEffortQueueMax: 3 });
  s.reply("r1");
  for (const name of ["c1", "c2", "c3", "c4", "c5"]) s.offer("confirmation", name);
  s.offer("typing", "t1"); // the cap is per class: typing has its own
  assert.deepEqual(s.scheduler.waiting(), { replies: 0, typing: 1, confirmation: 3 });
  await s.clock.advance(1_000);
  assert.deepEqual(s.started.map(([name]) => name), ["r1", "t1", "c3", "c4", "c5"]);
  assert.deepEqual(s.drops.map(([cls, reason]) => [cls, reason]), [
    ["confirmation", "queue_full"],
    ["confirmation", "queue_full"],
  ]);
});

Deno.test("a failed best-effort request is reported as failed with its error, and not retried", async () => {
  const s = setup();
  const refused = new Error("403 from Discord");
  s.offer("confirmation", "c1", () => Promise.reject(refused));
  s.offer("typing", "t1", () => {
    throw new Error("thrown before any request");
  });
  await s.clock.advance(1_000);
  assert.deepEqual(s.started.map(([name]) => name), ["c1", "t1"]);
  assert.deepEqual(s.drops.map(([cls, reason]) => [cls, reason]), [
    ["confirmation", "failed"],
    ["typing", "failed"],
  ]);
  assert.equal(s.drops[0][2], refused);
});

Deno.test("under a sustained reply backlog best-effort still gets one slot in `bestEffortEvery`", async () => {
  const s = setup({ bestEffortEvery: 4 });
  s.reply("r0");
  for (let i = 1; i <= 9; i++) s.reply(`r${i}`);
  s.offer("confirmation", "c1");
  s.offer("confirmation", "c2");
  await s.clock.advance(2_000);
  assert.deepEqual(
    s.started.map(([name]) => name),
    ["r0", "r1", "r2", "r3", "c1", "r4", "r5", "r6", "c2", "r7", "r8", "r9"],
  );
  // With nothing best-effort waiting, replies take every slot.
  for (let i = 10; i < 16; i++) s.reply(`r${i}`);
  await s.clock.advance(1_000);
  assert.deepEqual(
    s.started.slice(12).map(([, at]) => at),
    [2_000, 2_100, 2_200, 2_300, 2_400, 2_500],
  );
});

Deno.test("stop rejects waiting replies, forgets best-effort requests and leaves no timer", async () => {
  const s = setup();
  s.reply("r1");
  const waiting = s.scheduler.take();
  s.offer("confirmation", "c1");
  s.scheduler.stop();
  await assert.rejects(waiting, /stopped/);
  await assert.rejects(s.scheduler.take(), /stopped/);
  s.offer("typing", "t1");
  await s.clock.advance(1_000);
  assert.deepEqual(s.started, [["r1", 0]]);
  assert.deepEqual(s.drops, [], "what was forgotten at shutdown is not counted as dropped");
  assert.equal(s.clock.timers(), 0);
});
