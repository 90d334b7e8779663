/**
 * Dead letters can be operated: listed with filters, retried (delivered by a
 * running mailbox's sweep), dropped, and they expire after DEAD_LETTER_DAYS.
 */
import { ChatwootFailure } from "./helpers/service_failures.ts";
import assert from "node:assert/strict";
import {
  type DeadLettersCommand,
  parseDeadLettersArgs,
  runDeadLetters,
} from "../src/cli/dead_letters.ts";
import { Mailboxes } from "../src/jobs/mailbox.ts";
import { inlineWakeups } from "../src/jobs/wakeups.ts";
import { silentLogger } from "../src/log.ts";
import { keys } from "../src/store/keys.ts";
import { spawnCordwoot } from "./helpers/process.ts";

const ALICE = "650000000000000101";
const BOB = "650000000000000102";

/** Mailboxes whose items named "poison…" fail until `cured`. */
function poisonedMailboxes(kv: Deno.Kv, delivered: string[], ttlMs?: number) {
  const state = { cured: false };
  const handler = (_user: string, entry: { item: unknown }) => {
    const item = entry.item as string;
    if (item.startsWith("poison") && !state.cured) return Promise.reject(new ChatwootFailure(422));
    delivered.push(item);
    return Promise.resolve();
  };
  const mailboxes = new Mailboxes({
    kv,
    wakeups: inlineWakeups(),
    log: silentLogger,
    retryDelayMs: () => 5,
    ...(ttlMs ? { deadLetterTtlMs: ttlMs } : {}),
    handlers: { in: handler, out: handler },
  });
  mailboxes.listen();
  return { mailboxes, state };
}

async function untilDead(kv: Deno.Kv, count: number) {
  const end = Date.now() + 5000;
  for (;;) {
    let n = 0;
    for await (const _ of kv.list({ prefix: keys.allDead() })) n++;
    if (n === count) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${count} dead letter(s)`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function run(kv: Deno.Kv, args: string[]) {
  const command = parseDeadLettersArgs(args);
  if (typeof command === "string") throw new Error(command);
  const lines: string[] = [];
  const code = await runDeadLetters(kv, command as DeadLettersCommand, (l) => lines.push(l));
  return { code, lines };
}

Deno.test("dead letters: list with filters, retry delivers them through the sweep, drop deletes them", async () => {
  using kv = await Deno.openKv(":memory:");
  const delivered: string[] = [];
  const { mailboxes, state } = poisonedMailboxes(kv, delivered);
  await mailboxes.append({ dir: "in", userId: ALICE, items: [{ seq: 1n, item: "poison-a" }] });
  await mailboxes.append({ dir: "out", userId: ALICE, items: [{ seq: 2n, item: "poison-b" }] });
  await mailboxes.append({ dir: "in", userId: BOB, items: [{ seq: 3n, item: "poison-c" }] });
  await untilDead(kv, 3);
  await mailboxes.idle();
  assert.equal((await mailboxes.stats()).dead, 3);

  const all = await run(kv, ["list"]);
  assert.equal(all.lines.at(-1), "3 dead letter(s)");
  const alice = await run(kv, ["list", "--user", ALICE]);
  assert.equal(alice.lines.length, 3);
  const aliceIn = await run(kv, ["list", "--user", ALICE, "--direction", "in", "--json"]);
  assert.equal(aliceIn.lines.length, 1);
  const row = JSON.parse(aliceIn.lines[0]);
  assert.deepEqual([row.direction, row.userId, row.id, row.item], ["in", ALICE, "1", "poison-a"]);
  assert.match(row.reason, /422/);

  state.cured = true;
  const retried = await run(kv, ["retry", "--user", ALICE, "--direction", "in"]);
  assert.equal(retried.code, 0);
  assert.match(retried.lines[0], /^requeued /);
  assert.equal(await mailboxes.sweep(), 1, "the sweep finds the requeued mailbox");
  await mailboxes.idle();
  assert.deepEqual(delivered, ["poison-a"]);

  const dropped = await run(kv, ["drop", "--direction", "out"]);
  assert.match(dropped.lines[0], /^dropped /);
  assert.equal((await run(kv, ["drop", "--direction", "out"])).code, 1, "nothing left to drop");
  const left = await run(kv, ["list", "--json"]);
  assert.deepEqual(left.lines.map((l) => JSON.parse(l).userId), [BOB]);
  await mailboxes.stop();
});

Deno.test("dead-letters arguments: retry and drop need a filter or --all; bad values are named", () => {
  assert.match(String(parseDeadLettersArgs(["retry"])), /needs --user, --direction, --id or --all/);
  assert.match(String(parseDeadLettersArgs(["list", "--direction", "up"])), /in or out/);
  assert.match(String(parseDeadLettersArgs(["list", "--user", "bob"])), /Discord user id/);
  assert.match(String(parseDeadLettersArgs(["purge"])), /list, retry or drop/);
  assert.deepEqual(parseDeadLettersArgs(["drop", "--all"]), { action: "drop", filter: {} });
});

Deno.test("dead letters expire after their TTL: gone from the counts and the list", async () => {
  using kv = await Deno.openKv(":memory:");
  const { mailboxes } = poisonedMailboxes(kv, [], 150);
  await mailboxes.append({ dir: "in", userId: ALICE, items: [{ seq: 1n, item: "poison" }] });
  await untilDead(kv, 1);
  assert.equal((await run(kv, ["list"])).lines.at(-1), "1 dead letter(s)");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await run(kv, ["list"])).lines.at(-1), "0 dead letter(s)");
  await mailboxes.stop();
});

Deno.test("`cordwoot dead-letters` runs from the command line against KV_PATH", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/data/cordwoot.kv`;
  await Deno.mkdir(`${dir}/data`);
  {
    using kv = await Deno.openKv(kvPath);
    await kv.set(keys.deadItem("out", ALICE, [7n]), {
      item: { kind: "reply" },
      reason: "Discord refused it",
      failedAt: Date.now(),
    });
  }
  const env = {
    DISCORD_TOKEN: "NjUwMDAwMDAwMDAwMDAwMDAx.fake.token",
    CHATWOOT_BASE_URL: "http://127.0.0.1:9",
    CHATWOOT_ACCOUNT_ID: "1",
    CHATWOOT_API_TOKEN: "t0ken-for-the-test",
    CHATWOOT_INBOX_ID: "1",
    WEBHOOK_SECRET: "s3cret-for-the-test",
    KV_PATH: kvPath,
  };
  const listed = await spawnCordwoot(["dead-letters", "list", "--direction", "out"], {
    env,
    cwd: dir,
  })
    .result;
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(
    listed.stdout,
    new RegExp(`out \\(to Discord\\)  user ${ALICE}  id 7 .* reply  Discord refused it`),
  );
  const bad = await spawnCordwoot(["dead-letters", "retry"], { env, cwd: dir }).result;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /needs --user, --direction, --id or --all/);
  const dropped = await spawnCordwoot(["dead-letters", "drop", "--id", "7"], { env, cwd: dir })
    .result;
  assert.equal(dropped.code, 0, dropped.stderr);
  assert.match(dropped.stdout, /^dropped /);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a retried dead letter resumes with the progress it had and looks before repeating anything", async () => {
  using kv = await Deno.openKv(":memory:");
  const seen: { firstAttempt: boolean; progress: Record<string, unknown> }[] = [];
  let cured = false;
  const mailboxes = new Mailboxes({
    kv,
    wakeups: inlineWakeups(),
    log: silentLogger,
    retryDelayMs: () => 5,
    handlers: {
      in: () => Promise.resolve(),
      out: async (_user, entry, checkpoint, context) => {
        seen.push({ firstAttempt: context.firstAttempt, progress: entry.progress });
        if (cured) return;
        await checkpoint({ sentPartIds: ["part-1"] }); // part 1 reached Discord
        throw new ChatwootFailure(422, "part 2 refused");
      },
    },
  });
  mailboxes.listen();
  await mailboxes.append({ dir: "out", userId: ALICE, items: [{ seq: 1n, item: "long reply" }] });
  await untilDead(kv, 1);
  cured = true;
  assert.equal((await run(kv, ["retry", "--user", ALICE])).code, 0);
  await mailboxes.sweep();
  await mailboxes.idle();
  const last = seen.at(-1);
  assert.deepEqual(last, { firstAttempt: false, progress: { sentPartIds: ["part-1"] } });
  await mailboxes.stop();
});

Deno.test("/healthz counts notice what changed outside this process (another instance, the CLI)", async () => {
  using kv = await Deno.openKv(":memory:");
  let now = Date.now();
  const { mailboxes } = poisonedMailboxes(kv, []);
  const counted = new Mailboxes({
    kv,
    wakeups: inlineWakeups(),
    log: silentLogger,
    now: () => now,
    handlers: { in: () => Promise.resolve(), out: () => Promise.resolve() },
  });
  await mailboxes.append({ dir: "in", userId: ALICE, items: [{ seq: 1n, item: "poison" }] });
  await untilDead(kv, 1);
  assert.equal((await counted.stats()).dead, 1);
  await run(kv, ["drop", "--all"]); // another process
  assert.equal((await counted.stats()).dead, 1, "counted a moment ago");
  now += 6_000;
  assert.equal((await counted.stats()).dead, 0, "counted again after a few seconds");
  await Promise.all([mailboxes.stop(), counted.stop()]);
});
