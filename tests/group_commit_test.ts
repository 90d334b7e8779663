/**
 * Group commits: writes arriving together share one KV commit; a failing
 * check fails only its own write; many users appending at once keep every
 * item, once, each user's in order, with far fewer commits than items.
 */
import assert from "node:assert/strict";
import { GroupCommit, recordedWrite } from "../src/jobs/group_commit.ts";
import { Mailboxes } from "../src/jobs/mailbox.ts";
import { inlineWakeups } from "../src/jobs/wakeups.ts";
import { silentLogger } from "../src/log.ts";
import { interceptCommits } from "./helpers/kv_commits.ts";

Deno.test("writes arriving together are committed together; a failed check fails only its own write", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(["taken"], 1);
  const commits = new GroupCommit(kv);
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      commits.commit(recordedWrite((op) => {
        // Write 7 insists that ["taken"] does not exist: its own check fails.
        if (i === 7) op.check({ key: ["taken"], versionstamp: null });
        op.set(["item", i], i);
      }))),
  );
  assert.deepEqual(results.map((r) => r.ok), results.map((_, i) => i !== 7));
  assert.equal((await kv.get(["item", 7])).versionstamp, null, "the failed write wrote nothing");
  for (let i = 0; i < 40; i++) {
    if (i !== 7) assert.equal((await kv.get(["item", i])).value, i);
  }
  // A group or two, then halves of the failed one down to write 7: far fewer than 40 commits.
  assert.ok(commits.counts.groups < 20, `${commits.counts.groups} commits for 40 writes`);
});

Deno.test("a write KV refuses (a value too large) fails alone; the others in its group go through", async () => {
  using kv = await Deno.openKv(":memory:");
  const commits = new GroupCommit(kv);
  const outcomes = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) =>
      commits.commit(recordedWrite((op) => {
        op.set(["value", i], i === 3 ? "y".repeat(70_000) : i); // KV's limit is 64 KiB
      }))),
  );
  assert.deepEqual(
    outcomes.map((o) => o.status),
    outcomes.map((_, i) => i === 3 ? "rejected" : "fulfilled"),
  );
  for (let i = 0; i < 8; i++) {
    assert.equal((await kv.get(["value", i])).value, i === 3 ? null : i);
  }
});

Deno.test("400 users appending at once: every item once, each user's in order, in far fewer commits", async () => {
  // A file database, as in production: each commit waits for the disk, and writes gather meanwhile.
  const dir = await Deno.makeTempDir();
  using real = await Deno.openKv(`${dir}/group.kv`);
  let kvCommits = 0;
  const kv = interceptCommits(real, (commit) => {
    kvCommits++;
    return commit();
  });
  const handled = new Map<string, string[]>();
  const mailboxes = new Mailboxes({
    kv,
    wakeups: inlineWakeups(),
    log: silentLogger,
    handlers: {
      in: (user, entry) => {
        handled.set(user, [...(handled.get(user) ?? []), String(entry.item)]);
        return Promise.resolve();
      },
      out: () => Promise.resolve(),
    },
  });
  mailboxes.listen();
  const users = Array.from({ length: 400 }, (_, i) => `u${i}`);
  await Promise.all(
    users.flatMap((user) =>
      [1, 2, 3].map((n) =>
        mailboxes.append({ dir: "in", userId: user, items: [{ seq: BigInt(n), item: `${n}` }] })
      )
    ),
  );
  const end = Date.now() + 10_000;
  while ([...handled.values()].flat().length < 1200 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await mailboxes.idle();
  for (const user of users) assert.deepEqual(handled.get(user), ["1", "2", "3"], user);
  // Alone, each item costs an append commit and a completion commit: 2,400.
  assert.ok(kvCommits < 1200, `${kvCommits} commits for 1,200 items`);
  console.log(`group commits: 1,200 items from 400 users in ${kvCommits} KV commits`);
  await mailboxes.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});
