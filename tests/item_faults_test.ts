/**
 * a bug in one stored item (a kind this version does not know, or a
 * known kind of another shape) must be dead-lettered with its sender told,
 * and must never block its mailbox (ARCHITECTURE.md "Closed by default").
 * Real Mailboxes, real dispatch and real tellSender on a `:memory:` KV.
 */
import assert from "node:assert/strict";
import { mailboxHandlers } from "../src/app/mailbox_dispatch.ts";
import { tellSender } from "../src/bridge/undelivered.ts";
import { Mailboxes } from "../src/jobs/mailbox.ts";
import { inlineWakeups } from "../src/jobs/wakeups.ts";
import { silentLogger } from "../src/log.ts";
import { keys } from "../src/store/keys.ts";

async function until(probe: () => boolean | Promise<boolean>, what: string, ms = 1500) {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function pendingItems(kv: Deno.Kv, dir: "in" | "out", userId: string) {
  const items: Record<string, unknown>[] = [];
  for await (
    const e of kv.list<{ item: Record<string, unknown> }>({ prefix: keys.pending(dir, userId) })
  ) {
    if (e.value && typeof e.value === "object" && "item" in e.value) items.push(e.value.item);
  }
  return items;
}

Deno.test("a stored DM-mailbox item of an unknown kind is dead-lettered and its Discord sender is told", async () => {
  using kv = await Deno.openKv(":memory:");
  const delivered: unknown[] = [];
  // Each use case is called with (item, attempt).
  const record = () => (item: unknown) => {
    delivered.push(item);
    return Promise.resolve();
  };
  const deliverers = new Proxy({}, { get: record });
  const mailboxes = new Mailboxes({
    kv,
    wakeups: inlineWakeups(),
    log: silentLogger,
    retryDelayMs: () => 5,
    maxItemFailures: 2,
    tellSender,
    // deno-lint-ignore no-explicit-any
    handlers: mailboxHandlers({ in: deliverers as any, out: deliverers as any }, {
      recentWindowMs: 1000,
    }),
  });
  mailboxes.listen();
  // e.g. written by a newer version, then rolled back
  const future = { kind: "dm_v2", discordUserId: "u1", messageId: "1", receivedAt: Date.now() };
  await mailboxes.append({ dir: "in", userId: "u1", items: [{ seq: 1n, item: future }] });
  await until(async () => {
    for await (const _ of kv.list({ prefix: keys.allDead() })) return true;
    return false;
  }, "the dead letter");
  await new Promise((r) => setTimeout(r, 100));
  const told = [...delivered, ...await pendingItems(kv, "out", "u1")].filter((i) =>
    (i as { kind?: string }).kind === "notice"
  );
  await mailboxes.stop(100);
  assert.equal(told.length, 1, "the Discord user gets a 'not delivered' notice");
});

Deno.test("a malformed stored notice that fails for good does not block the items behind it", async () => {
  using kv = await Deno.openKv(":memory:");
  const delivered: string[] = [];
  const mailboxes = new Mailboxes({
    kv,
    wakeups: inlineWakeups(),
    log: silentLogger,
    retryDelayMs: () => 5,
    maxItemFailures: 2,
    leaseMs: 100,
    tellSender,
    handlers: {
      in: () => Promise.resolve([]),
      out: (_user, entry) => {
        const id = (entry.item as { noticeId?: string }).noticeId;
        if (!id) return Promise.reject(new TypeError("notice without noticeId"));
        delivered.push(id);
        return Promise.resolve([]);
      },
    },
  });
  mailboxes.listen();
  const bad = { kind: "notice", discordUserId: "u1", embed: {}, receivedAt: 1 };
  const good = { kind: "notice", discordUserId: "u1", noticeId: "next", embed: {}, receivedAt: 1 };
  await mailboxes.append({
    dir: "out",
    userId: "u1",
    items: [{ seq: 1n, item: bad }, { seq: 2n, item: good }],
  });
  try {
    await until(() => delivered.includes("next"), "the notice behind the bad one");
  } finally {
    await mailboxes.stop(100);
  }
});
