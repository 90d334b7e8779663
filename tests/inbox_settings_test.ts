import assert from "node:assert/strict";
import type { InboxSettings } from "../src/bridge/ports.ts";
import { presenceCronSchedule } from "../src/discord/presence.ts";
import { silentLogger } from "../src/log.ts";
import { createInboxSettingsCache, defaultInboxSettings } from "../src/store/inbox_settings.ts";

function source(settings: InboxSettings) {
  const state = { calls: 0, fail: false, settings };
  return {
    state,
    chatwoot: {
      getInbox() {
        state.calls++;
        return state.fail
          ? Promise.reject(new Error("unreachable"))
          : Promise.resolve(state.settings);
      },
    },
  };
}

Deno.test("inbox settings are read once per five minutes, then again; stale ones serve an outage", async () => {
  using kv = await Deno.openKv(":memory:");
  let now = 1_000_000;
  const s = source({ ...defaultInboxSettings(7), name: "first" });
  const cache = createInboxSettingsCache({
    kv,
    chatwoot: s.chatwoot,
    inboxId: 7,
    log: silentLogger,
    now: () => now,
  });
  assert.equal((await cache.get()).name, "first");
  now += 4 * 60_000;
  s.state.settings = { ...s.state.settings, name: "second" };
  assert.equal((await cache.get()).name, "first", "still fresh after 4 minutes");
  assert.equal(s.state.calls, 1);
  now += 61_000;
  assert.equal((await cache.get()).name, "second", "read again after 5 minutes");
  assert.equal(s.state.calls, 2);
  now += 6 * 60_000;
  s.state.fail = true;
  assert.equal((await cache.get()).name, "second", "the last known settings serve an outage");
});

Deno.test("without any settings ever read, defaults accept every DM", async () => {
  using kv = await Deno.openKv(":memory:");
  const s = source(defaultInboxSettings(7));
  s.state.fail = true;
  const cache = createInboxSettingsCache({
    kv,
    chatwoot: s.chatwoot,
    inboxId: 7,
    log: silentLogger,
  });
  const settings = await cache.get();
  assert.equal(settings.workingHoursEnabled, false);
  assert.equal(settings.lockToSingleConversation, false);
});

Deno.test("the presence interval is rounded up to whole minutes for cron", () => {
  assert.equal(presenceCronSchedule(300_000), "*/5 * * * *");
  assert.equal(presenceCronSchedule(90_000), "*/2 * * * *");
  assert.equal(presenceCronSchedule(1_000), "* * * * *");
  assert.equal(presenceCronSchedule(3_600_000), "0 * * * *");
  assert.equal(presenceCronSchedule(3 * 3_600_000 + 1), "0 */4 * * *");
});
