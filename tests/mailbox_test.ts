import assert from "node:assert/strict";
import { ServiceError } from "../src/bridge/errors.ts";
import { Mailboxes } from "../src/jobs/mailbox.ts";
import { inlineWakeups, kvHasQueues, queueWakeups } from "../src/jobs/wakeups.ts";
import { silentLogger } from "../src/log.ts";

class Outage extends ServiceError {
  readonly service = "chatwoot" as const;
  readonly status = 503;
}
class Refused extends ServiceError {
  readonly service = "chatwoot" as const;
  readonly status = 422;
}

async function until(probe: () => boolean, what: string, ms = 5000) {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const mode of ["queue", "inline"] as const) {
  Deno.test(`mailbox (${mode} wake-ups): in order, retried after failures, dead letters for the hopeless`, async () => {
    using kv = await Deno.openKv(":memory:");
    const done: string[] = [];
    let failNext = 2;
    const mailboxes = new Mailboxes({
      kv,
      wakeups: mode === "queue" ? queueWakeups(kv) : inlineWakeups(),
      retryDelayMs: () => 20,
      log: silentLogger,
      handlers: {
        in: (_user, entry) => {
          const item = entry.item as string;
          if (item === "hopeless") throw new Refused("422 from Chatwoot");
          if (failNext > 0) {
            failNext--;
            throw new Outage("Chatwoot is down");
          }
          done.push(item);
          return Promise.resolve();
        },
        out: () => Promise.resolve(),
      },
    });
    mailboxes.listen();
    for (const [i, item] of ["a", "hopeless", "b", "c"].entries()) {
      await mailboxes.append({ dir: "in", userId: "u1", items: [{ seq: BigInt(i + 1), item }] });
    }
    assert.equal(
      await mailboxes.append({
        dir: "in",
        userId: "u1",
        items: [{ seq: 9n, item: "dup" }],
        dedupe: { kind: "notice", id: "1" },
      }),
      true,
    );
    assert.equal(
      await mailboxes.append({
        dir: "in",
        userId: "u1",
        items: [{ seq: 10n, item: "dup" }],
        dedupe: { kind: "notice", id: "1" },
      }),
      false,
      "a second append with the same dedupe key is refused",
    );
    await until(() => done.length === 4, "all deliverable items", 8000);
    assert.deepEqual(done, ["a", "b", "c", "dup"]);
    const stats = await mailboxes.stats();
    assert.deepEqual({ depth: stats.depth, retrying: stats.retrying, dead: stats.dead }, {
      depth: 0,
      retrying: 0,
      dead: 1,
    });
    await mailboxes.stop();
  });
}

Deno.test("the sweep wakes a mailbox whose wake-up was lost (the safety net on Deploy)", async () => {
  using kv = await Deno.openKv(":memory:");
  const done: string[] = [];
  const handlers = {
    in: (_u: string, e: { item: unknown }) => {
      done.push(e.item as string);
      return Promise.resolve();
    },
    out: () => Promise.resolve(),
  };
  // A process that appended and died before draining.
  const crashed = new Mailboxes({ kv, wakeups: inlineWakeups(), log: silentLogger, handlers });
  await crashed.stop(0);
  await crashed.append({ dir: "in", userId: "u2", items: [{ seq: 1n, item: "stranded" }] });
  assert.deepEqual(done, []);
  const next = new Mailboxes({ kv, wakeups: inlineWakeups(), log: silentLogger, handlers });
  assert.equal(await next.sweep(), 1);
  await next.idle();
  assert.deepEqual(done, ["stranded"]);
  await next.stop();
});

Deno.test("KV queues are used only on a local database outside Deno Deploy", () => {
  assert.equal(kvHasQueues("./data/cordwoot.kv", { deploy: false }), true);
  assert.equal(kvHasQueues(":memory:", { deploy: false }), true);
  assert.equal(
    kvHasQueues("https://api.deno.com/v2/databases/x/connect", { deploy: false }),
    false,
  );
  assert.equal(kvHasQueues("./data/cordwoot.kv", { deploy: true }), false);
});
