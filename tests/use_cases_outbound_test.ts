/**
 * Chatwoot → Discord use cases (relayReply, src/bridge/outbound.ts) and what
 * follows an undelivered item (src/bridge/undelivered.ts),
 * run against small in-memory ports (helpers/memory_ports.ts): no HTTP, no KV,
 * no waiting. Each test asserts on what the ports saw: what Chatwoot stored,
 * what Discord sent, what was queued in a mailbox. The end-to-end tests
 * through the fakes prove the adapters and the wiring; these pin down the
 * rules of each use case.
 */
import assert from "node:assert/strict";
import type {
  AgentAlertItem,
  DeliveryStatusItem,
  OutboundReply,
  ReplyProgress,
  UserNotice,
} from "../src/bridge/items.ts";
import { relayReply } from "../src/bridge/outbound.ts";
import { alertAgent, reportDeliveryStatus, tellSender } from "../src/bridge/undelivered.ts";
import { type MemoryPorts, memoryPorts, recordingAttempt } from "./helpers/memory_ports.ts";
import { ChatwootFailure, DiscordFailure } from "./helpers/service_failures.ts";
import {
  CHANNEL,
  conversationWithAgentMessage,
  dm,
  FIRST,
  reply,
  replyDeps,
  USER,
} from "./helpers/use_case_fixtures.ts";

// ---------------------------------------------------------------- relayReply

async function relay(
  p: MemoryPorts,
  item: OutboundReply,
  options: { firstAttempt?: boolean; progress?: ReplyProgress } = {},
) {
  const attempt = recordingAttempt({
    firstAttempt: options.firstAttempt ?? true,
    progress: options.progress,
  });
  const outcome = await relayReply(
    { ...replyDeps(p), checkpoint: (progress) => attempt.checkpoint(progress) },
    item,
    attempt.progress,
    attempt,
  );
  return { outcome, saved: attempt.saved };
}

const PARAGRAPHS = ["a", "b", "c"].map((c) => c.repeat(1500));
const LONG_REPLY = PARAGRAPHS.join("\n\n");

Deno.test("relayReply: a long reply goes out in parts, each but the last checkpointed as it is sent", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p, LONG_REPLY);

  const { outcome, saved } = await relay(p, reply(at, LONG_REPLY));

  const sent = p.discord.sentTo(USER);
  assert.deepEqual(sent.map((m) => m.message.content), PARAGRAPHS);
  assert.deepEqual(
    sent.map((m) => m.message.nonce),
    [0, 1, 2].map((i) => `cw${at.chatwootMessageId}s0p${i}`),
  );
  const ids = sent.map((m) => m.id);
  assert.deepEqual(saved, [{ sentPartIds: ids.slice(0, 1) }, { sentPartIds: ids.slice(0, 2) }]);
  assert.deepEqual(outcome, { status: "delivered", discordMessageIds: ids });
  assert.equal(p.tickets.dmChannels.get(USER), CHANNEL, "the DM channel is remembered");
});

Deno.test("relayReply: a retry resumes after the parts already sent", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p, LONG_REPLY);
  const down = new DiscordFailure(502);
  p.discord.failNext("sendMessage", null, null, down);

  const failed = await relay(p, reply(at, LONG_REPLY)).then(() => undefined, (e) => e);
  assert.equal(failed, down);
  const firstTwo = p.discord.sentTo(USER).map((m) => m.id);
  assert.equal(firstTwo.length, 2);

  const { outcome } = await relay(p, reply(at, LONG_REPLY), {
    firstAttempt: false,
    progress: { sentPartIds: firstTwo },
  });

  const sent = p.discord.sentTo(USER);
  assert.deepEqual(sent.map((m) => m.message.content), PARAGRAPHS, "each part once, in order");
  assert.equal(sent[2].message.nonce, `cw${at.chatwootMessageId}s0p2`);
  assert.deepEqual(outcome, { status: "delivered", discordMessageIds: sent.map((m) => m.id) });
});

Deno.test("relayReply: a retry of a reply already linked to its Discord copy sends nothing", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p);
  await p.links.link(at.chatwootMessageId, ["m42"]);

  const { outcome } = await relay(p, reply(at, "agent text"), { firstAttempt: false });

  assert.deepEqual(outcome, { status: "already-delivered" });
  assert.deepEqual(p.discord.calls, []);
});

Deno.test("relayReply: closed DMs (50007) mark the message failed with the reason and leave one private note per conversation", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p);
  const second = p.chatwoot.addAgentMessage(at.conversationId, "are you there?");
  p.discord.failNext("sendMessage", new DiscordFailure(403, 50007), new DiscordFailure(403, 50007));

  const { outcome } = await relay(p, reply(at, "agent text"));
  await relay(p, reply({ ...at, chatwootMessageId: second }, "are you there?"));

  const reason =
    `Cannot deliver reply ${at.chatwootMessageId} to Discord user ${USER}: DMs are closed (50007)`;
  assert.deepEqual(outcome, { status: "undeliverable", reason });
  assert.deepEqual(p.chatwoot.statusUpdates.map((u) => [u.messageId, u.status]), [
    [at.chatwootMessageId, "failed"],
    [second, "failed"],
  ]);
  assert.equal(p.chatwoot.statusUpdates[0].externalError, reason);
  const notes = p.chatwoot.privateNotes(at.conversationId);
  assert.equal(notes.length, 1, "one note for the conversation");
  assert.ok(notes[0].content.includes(reason));
  assert.deepEqual(p.discord.sent, []);
});

Deno.test("relayReply: an outage or a refused token is thrown to wait, not reported as undeliverable", async () => {
  for (const failure of [new DiscordFailure(503), new DiscordFailure(0), new DiscordFailure(401)]) {
    const p = memoryPorts();
    const at = conversationWithAgentMessage(p);
    p.discord.failNext("sendMessage", failure);

    await assert.rejects(relay(p, reply(at, "agent text")), (e) => e === failure);

    assert.deepEqual(p.chatwoot.statusUpdates, [], `HTTP ${failure.status}`);
    assert.deepEqual(p.chatwoot.privateNotes(at.conversationId), []);
  }
});

// ---------------------------------------------------------------- undelivered

Deno.test("tellSender: a user's failed item becomes a notice to them; the bridge's own inbound updates tell no one", () => {
  const at = Date.UTC(2025, 0, 15, 12, 0);
  const [forDm] = tellSender("in", USER, dm(FIRST, "hi", { receivedAt: at }), "400 Bad Request");
  assert.equal(forDm.kind, "notice");
  const n = forDm as UserNotice;
  assert.equal(n.noticeId, `undelivered:dm:${FIRST}`);
  assert.equal(n.discordUserId, USER);
  assert.equal(n.embed.tone, "danger");
  assert.match(n.embed.description, new RegExp(`^Your message from <t:${at / 1000}:F>`));

  const edit = { kind: "dm_edit", messageId: FIRST, userId: USER, receivedAt: at };
  assert.match(
    (tellSender("in", USER, edit, "x")[0] as UserNotice).embed.description,
    /^Your edit of a message/,
  );
  const rating = { kind: "csat_rating", uuid: "u-1", receivedAt: at };
  assert.equal(
    (tellSender("in", USER, rating, "x")[0] as UserNotice).noticeId,
    "undelivered:csat_rating:u-1",
  );

  const status: DeliveryStatusItem = {
    kind: "delivery_status",
    discordUserId: USER,
    conversationId: 1,
    chatwootMessageId: 2,
    receivedAt: at,
  };
  assert.deepEqual(tellSender("in", USER, status, "x"), []);
  assert.deepEqual(tellSender("in", USER, { kind: "agent_alert" }, "x"), []);
  assert.deepEqual(tellSender("in", USER, "not an item", "x"), []);
});

Deno.test("tellSender: an agent's failed item becomes an alert for the agents; a failed 'not delivered' notice tells no one", () => {
  const alert = (raw: unknown) =>
    tellSender("out", USER, raw, "Discord said 400") as AgentAlertItem[];

  const [forReply] = alert({ kind: "reply", conversationId: 9, chatwootMessageId: 77 });
  assert.deepEqual({ ...forReply, receivedAt: 0 }, {
    kind: "agent_alert",
    discordUserId: USER,
    conversationId: 9,
    chatwootMessageId: 77,
    what: "a reply",
    reason: "Discord said 400",
    receivedAt: 0,
  });
  const [forNotice] = alert({ kind: "notice", noticeId: "greeting:9" });
  assert.equal(forNotice.what, "a notice");
  assert.equal(forNotice.conversationId, undefined);
  assert.equal(forNotice.chatwootMessageId, undefined);
  const [forPrompt] = alert({ kind: "csat_prompt", conversationId: 9 });
  assert.deepEqual([forPrompt.what, forPrompt.conversationId], ["the satisfaction survey", 9]);
  const [forCsatNotice] = alert({
    kind: "notice",
    noticeId: "csat:u",
    csat: { conversationId: 4 },
  });
  assert.equal(forCsatNotice.conversationId, 4);
  assert.equal(
    alert({ kind: "agent_delete", chatwootMessageId: 5 })[0].what,
    "the deletion of a message",
  );
  assert.equal(
    alert({ kind: "delete" })[0].what,
    "the deletion of a message",
    "an earlier version's kind",
  );

  assert.deepEqual(alert({ kind: "notice", noticeId: `undelivered:dm:${FIRST}` }), []);
  assert.deepEqual(alert({ kind: "dm", messageId: FIRST }), [], "not an outbound kind");
});

Deno.test("alertAgent: the failed reply is marked failed and the conversation gets one note, however often the alert runs", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p);
  const item: AgentAlertItem = {
    kind: "agent_alert",
    discordUserId: USER,
    ...at,
    what: "a reply",
    reason: "Discord said 400",
    receivedAt: Date.now(),
  };

  await alertAgent(p, item);
  await alertAgent(p, item);

  const why = "cordwoot could not deliver a reply to the user on Discord: Discord said 400";
  assert.deepEqual(p.chatwoot.statusUpdates[0], {
    conversationId: at.conversationId,
    messageId: at.chatwootMessageId,
    status: "failed",
    externalError: why,
  });
  assert.deepEqual(p.chatwoot.privateNotes(at.conversationId).map((n) => n.content), [`${why}.`]);
});

Deno.test("alertAgent: without a conversation it tells the user's current ticket, or no one", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p);
  const item: AgentAlertItem = {
    kind: "agent_alert",
    discordUserId: USER,
    what: "a notice",
    reason: "gone",
    receivedAt: 1,
  };

  await alertAgent(p, item);
  assert.deepEqual(p.chatwoot.calls, [], "no ticket yet: nothing to tell");
  assert.ok(p.log.lines.some((l) => l.level === "warn" && l.fields.discordUserId === USER));

  await p.tickets.save({ userId: USER, contactId: 1, sourceId: USER, ...at });
  await alertAgent(p, item);
  assert.deepEqual(p.chatwoot.statusUpdates, [], "no message to mark");
  assert.equal(p.chatwoot.privateNotes(at.conversationId).length, 1);
});

Deno.test("alertAgent: a conversation deleted in Chatwoot meanwhile is not an error", async () => {
  const p = memoryPorts();
  await alertAgent(p, {
    kind: "agent_alert",
    discordUserId: USER,
    conversationId: 404,
    chatwootMessageId: 1,
    what: "a reply",
    reason: "x",
    receivedAt: 1,
  });
  assert.deepEqual(p.chatwoot.calls, ["updateMessageStatus", "createPrivateNote"]);
});

Deno.test("reportDeliveryStatus: marks the reply delivered; a 404 is not an error, an outage is", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p);
  const status = (chatwootMessageId: number, conversationId = at.conversationId) => ({
    kind: "delivery_status" as const,
    discordUserId: USER,
    conversationId,
    chatwootMessageId,
    receivedAt: 1,
  });

  await reportDeliveryStatus(p, status(at.chatwootMessageId));
  assert.deepEqual(p.chatwoot.statusUpdates.map((u) => [u.messageId, u.status]), [
    [at.chatwootMessageId, "delivered"],
  ]);

  await reportDeliveryStatus(p, status(999_999)); // the agent deleted the message
  await reportDeliveryStatus(p, status(1, 424_242)); // the conversation was deleted
  assert.equal(p.chatwoot.statusUpdates.length, 1);
  assert.equal(
    p.log.lines.filter((l) => l.msg.startsWith("delivery status not recorded")).length,
    2,
  );

  const down = new ChatwootFailure(503);
  p.chatwoot.failNext("updateMessageStatus", down);
  await assert.rejects(reportDeliveryStatus(p, status(at.chatwootMessageId)), (e) => e === down);
});
