/** Closed-DMs fallback under faults: a moderator, a user outside the server, a lost gateway session. */
import assert from "node:assert/strict";
import { type Harness, startHarness } from "./helpers/harness.ts";
import { deliverAll, settle, ticketFromServer } from "./helpers/tickets.ts";
import { FAST_GATEWAY_TIMINGS } from "./helpers/timings.ts";

function startWithFallback(extra: Parameters<typeof startHarness>[0] = {}) {
  return startHarness({
    env: { GREETING_ENABLED: "false" },
    envFrom: (discord) => ({ FALLBACK_CHANNEL_ID: discord.fallbackChannelId }),
    ...extra,
  });
}

/** A closed-DMs user with a thread that holds the first reply. */
async function userWithThread(h: Harness, userId: string) {
  const first = await ticketFromServer(h, userId, "help");
  await deliverAll(h, [h.chatwoot.agentReply(first.conversation_id, "first reply")]);
  const thread = await h.discord.waitFor(() => [...h.discord.threads.values()][0], "the thread");
  await h.discord.waitFor(
    () => h.discord.sentInThread(thread.id).find((m) => m.content === "first reply"),
    "the first reply in the thread",
  );
  return { conversationId: first.conversation_id, thread };
}

Deno.test("a fallback thread deleted by a moderator (10003) is replaced: the next reply reaches the user", async () => {
  await using h = await startWithFallback();
  const userId = "681500000000000001";
  const { conversationId, thread } = await userWithThread(h, userId);
  h.discord.threads.delete(thread.id); // a moderator deleted it: Discord answers 10003 from now on
  const reply = h.chatwoot.agentReply(conversationId, "second reply");
  await deliverAll(h, [reply]);
  await settle(h, 500);
  const status = h.chatwoot.messages.find((m) => m.id === reply.id)?.status;
  const delivered = h.discord.sent.some((m) => m.content === "second reply");
  assert.ok(
    delivered,
    `the reply never reached the user (Chatwoot status: ${status}, threads: ${h.discord.threads.size})`,
  );
});

Deno.test("a user outside the fallback server does not get a new orphan private thread per message", async () => {
  await using h = await startWithFallback();
  const userId = "681500000000000002";
  const first = await ticketFromServer(h, userId, "hi", false); // user-installed app, no shared server
  for (const text of ["one", "two", "three"]) {
    const reply = h.chatwoot.agentReply(first.conversation_id, text);
    await deliverAll(h, [reply]);
    await h.chatwoot.waitFor(
      () => h.chatwoot.messages.find((m) => m.id === reply.id)?.status === "failed",
      `reply "${text}" marked failed`,
    );
  }
  // Each thread stays active for 7 days and counts towards the guild's 1,000 active threads.
  assert.ok(
    h.discord.threads.size <= 1,
    `${h.discord.threads.size} empty private threads opened in the fallback channel`,
  );
});

Deno.test("a message written in the fallback thread while the gateway session was lost is caught up like a DM", async () => {
  await using h = await startWithFallback({ gatewayTimings: FAST_GATEWAY_TIMINGS });
  const userId = "681500000000000003";
  const { thread } = await userWithThread(h, userId);
  const identifies = h.discord.gatewayOps.filter((o) => o.op === 2).length;
  // The session dies (Discord will not replay what it missed: a new IDENTIFY follows).
  h.discord.silenceGateway();
  const missed = h.discord.sendThreadMessage({
    userId,
    threadId: thread.id,
    content: "are you there?",
  });
  h.discord.closeGateway(4009, "Session timed out");
  await h.discord.waitFor(
    () =>
      h.discord.gatewayOps.filter((o) => o.op === 2).length > identifies &&
      h.discord.connectedSessions > 0,
    "a new session",
    4_000,
  );
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === missed.messageId),
    "the thread message written while disconnected",
    2_000,
  );
});

Deno.test("a moderator in the thread and the user in the parent channel are not relayed", async () => {
  await using h = await startWithFallback();
  const userId = "681500000000000004";
  const moderator = "681500000000000005";
  const { conversationId, thread } = await userWithThread(h, userId);
  h.discord.guildMembers.add(moderator);
  thread.members.add(moderator); // Manage Threads: moderators see and write in private threads
  h.discord.sendThreadMessage({ userId: moderator, threadId: thread.id, content: "mod says hi" });
  h.discord.dispatch("MESSAGE_CREATE", {
    id: "1400000000000000001",
    channel_id: h.discord.fallbackChannelId,
    guild_id: h.discord.guildId,
    author: { id: userId, username: "u", global_name: null, avatar: null },
    content: "in the parent channel",
    timestamp: new Date().toISOString(),
  });
  const own = h.discord.sendThreadMessage({ userId, threadId: thread.id, content: "mine" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.source_id === own.messageId),
    "the user's thread message",
  );
  await settle(h);
  const incoming = h.chatwoot.messages.filter((m) =>
    m.conversation_id === conversationId && m.message_type === 0
  ).map((m) => m.content);
  assert.deepEqual(incoming, ["help", "mine"]);
});

Deno.test("a deletion in the thread of the bot's own reply (a moderator, or the echo of an agent's deletion) is not posted as the user's", async () => {
  await using h = await startWithFallback();
  const userId = "681500000000000006";
  const { conversationId, thread } = await userWithThread(h, userId);
  const botReply = h.discord.sentInThread(thread.id).find((m) => m.content === "first reply")!;
  // MESSAGE_DELETE carries only ids: Discord sends it for any deletion in the thread.
  h.discord.dispatch("MESSAGE_DELETE", {
    id: botReply.id,
    channel_id: thread.id,
    guild_id: h.discord.guildId,
  });
  await settle(h, 400);
  const claimed = h.chatwoot.messages.filter((m) =>
    m.conversation_id === conversationId && /The user deleted/.test(m.content)
  );
  assert.equal(claimed.length, 0, "the agent's reply is shown as deleted by the user");
});
