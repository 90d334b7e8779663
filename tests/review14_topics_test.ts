/**
 * Review of issue 14 (outside reviewer): topic intake under faults and
 * operator mistakes. These tests describe what should happen; they may fail
 * on the code under review (that is the finding).
 */
import assert from "node:assert/strict";
import { WaitForUser } from "../src/bridge/errors.ts";
import type { MailboxPort } from "../src/bridge/ports.ts";
import { topicForNewTicket } from "../src/bridge/topics.ts";
import { createTopicPickStore } from "../src/store/topic_picks.ts";
import { startHarness } from "./helpers/harness.ts";

const TOPICS = JSON.stringify([
  { label: "Billing", emoji: "💳", labels: ["billing"] },
  { label: "Bug report", labels: ["bug"] },
]);

const quiet = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return this;
  },
} as never;

Deno.test("review14: the topic menu is still sent when queueing it failed once (KV blip between start and append)", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 1_000_000;
    const appended: unknown[] = [];
    let failNext = true;
    const mailbox: MailboxPort = {
      append(request) {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("database is locked"));
        }
        appended.push(request);
        return Promise.resolve(true);
      },
      resume() {},
    };
    const deps = {
      topics: JSON.parse(TOPICS),
      timeoutMs: 600_000,
      picks: createTopicPickStore(kv, () => now),
      mailbox,
      log: quiet,
      now: () => now,
    };
    await assert.rejects(topicForNewTicket(deps, "u1"), /database is locked/);
    now += 5_000; // the mailbox retries its head DM
    await assert.rejects(topicForNewTicket(deps, "u1"), WaitForUser);
    assert.equal(appended.length, 1, "the retry never queued the menu: the user waits unseen");
  } finally {
    kv.close();
  }
});

Deno.test("review14: TICKET_TOPICS with an emoji Discord cannot render is refused at start-up", async () => {
  const env = {
    GREETING_ENABLED: "false",
    TICKET_TOPICS: JSON.stringify([{ label: "Billing", emoji: ":credit_card:" }]),
  };
  let started;
  try {
    started = await startHarness({ env });
  } catch (error) {
    assert.match(String(error), /TICKET_TOPICS/);
    return;
  } finally {
    await started?.stop();
  }
  assert.fail(
    "':credit_card:' was accepted: every topic menu would be refused (50035 invalid emoji)",
  );
});

Deno.test("review14: /support from a server by a user whose DMs are closed does not sit out the topic timeout", async () => {
  await using h = await startHarness({
    env: { TICKET_TOPICS: TOPICS, GREETING_ENABLED: "false" },
    timings: { topicTimeoutMs: 60_000 },
  });
  const userId = "670000000000000001";
  h.discord.closedDms.add(userId);
  const command = h.discord.useCommand(userId, h.config.ticketCommand, { message: "help me" }, {
    context: 0,
    guildId: "670000000000000900",
    channelId: "670000000000000901",
  });
  await h.discord.responseTo(command);
  const seen = await h.discord.waitFor(
    () => {
      const edit = h.discord.interactionEdits.get(command.token)?.at(-1);
      const followUp = h.discord.followUpsOf(command)[0];
      const inChatwoot = h.chatwoot.messages.some((m) => m.content === "help me");
      return edit || followUp || inChatwoot ? { edit, followUp, inChatwoot } : undefined;
    },
    "a menu in the interaction, a word to the user, or the ticket",
    3_000,
  ).catch(() => undefined);
  assert.ok(
    seen,
    "after 3 s: no menu in the interaction, no word to the user, no ticket (the menu went to closed DMs)",
  );
});
