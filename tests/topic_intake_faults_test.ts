/** Topic intake under faults and operator mistakes, and from the ticket command. */
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

Deno.test("topic intake: the menu is still sent when queueing it failed once (a storage blip between the pick record and the menu)", async () => {
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
      replies: { editReply: () => Promise.resolve() },
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

Deno.test("topic intake: TICKET_TOPICS with an emoji Discord cannot show is refused at start-up, naming the variable", async () => {
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

Deno.test("topic intake: /support from a server asks in its own answer (DMs closed or not); the pick opens the ticket", async () => {
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
  assert.ok(seen?.edit, "the menu is in the command's answer");
  assert.match(JSON.stringify(seen.edit), /What can we help you with\?/);
  const menu = (seen.edit.components as { components: { custom_id: string }[] }[])[0]
    .components[0];
  const answer = h.discord.interactionMessage(command)!;
  await h.discord.responseTo(h.discord.chooseOption(userId, answer, menu.custom_id, ["1"]));
  const posted = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.content === "help me"),
    "the message in Chatwoot after the pick",
  );
  const conversation = h.chatwoot.conversations.find((c) => c.id === posted.conversation_id)!;
  assert.deepEqual(conversation.labels, ["bug"]);
  await h.discord.waitFor(
    () => /Message sent/.test(JSON.stringify(h.discord.interactionEdits.get(command.token))),
    "the command's answer: sent",
  );
});
