/**
 * The mailboxes' deliverers tables (src/bridge/deliver_inbound.ts,
 * deliver_outbound.ts): what each item kind's use case leaves behind,
 * run against small in-memory ports (helpers/memory_ports.ts): no HTTP, no KV,
 * no waiting. Each test asserts on what the ports saw: what Chatwoot stored,
 * what Discord sent, what was queued in a mailbox. The end-to-end tests
 * through the fakes prove the adapters and the wiring; these pin down the
 * rules of each use case.
 */
import assert from "node:assert/strict";
import { inboundDeliverers, type InboundDeliveryDeps } from "../src/bridge/deliver_inbound.ts";
import { outboundDeliverers, type OutboundDeliveryDeps } from "../src/bridge/deliver_outbound.ts";
import type { InboundDeps } from "../src/bridge/inbound.ts";
import { type MemoryPorts, memoryPorts, recordingAttempt } from "./helpers/memory_ports.ts";
import { DiscordFailure } from "./helpers/service_failures.ts";
import {
  CHANNEL,
  conversationWithAgentMessage,
  dm,
  dmDeps,
  EVENING,
  FIRST,
  OFFICE_HOURS,
  reply,
  replyDeps,
  SECOND,
  TEXTS,
  USER,
} from "./helpers/use_case_fixtures.ts";

function inboundTable(p: MemoryPorts, dms: Partial<InboundDeps> = {}) {
  const deps: InboundDeliveryDeps = {
    dms: dmDeps(p, dms),
    changes: p,
    answers: p,
    csat: {
      ...p,
      texts: {
        question: "How did we do?",
        buttonLabel: "Rate",
        commentEnabled: false,
        commentPlaceholder: "",
      },
    },
    replies: p.replies,
    log: p.log,
  };
  return inboundDeliverers(deps);
}

function outboundTable(p: MemoryPorts, replied: string[] = []) {
  const deps: OutboundDeliveryDeps = {
    replies: { ...replyDeps(p), csat: p.csat },
    csat: {
      ...replyDeps(p),
      csat: p.csat,
      replies: p.replies,
      texts: {
        question: "How did we do?",
        buttonLabel: "Rate",
        commentEnabled: false,
        commentPlaceholder: "",
      },
    },
    replied: (userId) => replied.push(userId),
  };
  return outboundDeliverers(deps);
}

Deno.test("deliverers: a dm's completion records the relayed message and where the user wrote", async () => {
  const p = memoryPorts();
  const table = inboundTable(p);
  const attempt = recordingAttempt();

  const completion = await table.dm(dm(FIRST), attempt);

  const [message] = p.chatwoot.incoming([...p.chatwoot.conversations.keys()][0]);
  assert.deepEqual(completion, {
    userWrote: { channelId: CHANNEL, messageId: FIRST },
    relayed: {
      chatwootMessageId: message.id,
      discordMessageIds: [FIRST],
      conversationId: message.conversationId,
    },
    lastSpeaker: { conversationId: message.conversationId, who: "user" },
  });
});

Deno.test("deliverers: a refused dm completes with where the user wrote only; one sent by command is answered in its interaction", async () => {
  const p = memoryPorts();
  p.inbox.settings = { ...p.inbox.settings, workingHoursEnabled: true, workingHours: OFFICE_HOURS };
  const refusing = inboundTable(p, {
    texts: { ...TEXTS, outsideHoursAccept: false },
    now: () => EVENING,
  });

  const refused = await refusing.dm(dm(FIRST), recordingAttempt());
  assert.deepEqual(refused, { userWrote: { channelId: CHANNEL, messageId: FIRST } });

  p.inbox.settings = { ...p.inbox.settings, workingHoursEnabled: false };
  const viaCommand = dm(SECOND, "hi", { viaCommand: { interactionToken: "tok-1" } });
  await inboundTable(p).dm(viaCommand, recordingAttempt());
  const [conversationId] = p.chatwoot.conversations.keys();
  assert.equal(p.chatwoot.incoming(conversationId)[0].sourceId, SECOND);
  assert.deepEqual(
    p.replies.answers.map((a) => [a.interactionToken, a.embed.title, a.embed.description]),
    [
      [
        "tok-1",
        "Message sent",
        `Our team has it (ticket #${conversationId}). Answers arrive as messages from me.`,
      ],
    ],
  );
  assert.ok(!p.discord.reactions.some((r) => r.messageId === SECOND), "no ✅ on a command");
});

Deno.test("deliverers: a delivered reply completes with its link and a delivery_status follow-up, which marks it delivered", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p, "On its way.");
  const replied: string[] = [];

  const completion = await outboundTable(p, replied).reply(
    reply(at, "On its way."),
    recordingAttempt(),
  );

  const [sent] = p.discord.sentTo(USER);
  assert.ok(completion);
  assert.deepEqual(completion.relayed, {
    chatwootMessageId: at.chatwootMessageId,
    discordMessageIds: [sent.id],
    conversationId: at.conversationId,
  });
  assert.equal(completion.followUps?.length, 1);
  const [followUp] = completion.followUps!;
  assert.deepEqual({ ...followUp, receivedAt: 0 }, {
    kind: "delivery_status",
    discordUserId: USER,
    conversationId: at.conversationId,
    chatwootMessageId: at.chatwootMessageId,
    receivedAt: 0,
  });
  assert.deepEqual(replied, [USER], "the agent's typing indicator ends");
  assert.equal(p.chatwoot.statusUpdates.length, 0, "not marked before its own item runs");

  assert.ok(followUp.kind === "delivery_status");
  await inboundTable(p).delivery_status(followUp, recordingAttempt());
  assert.deepEqual(p.chatwoot.statusUpdates.map((u) => [u.messageId, u.status]), [
    [at.chatwootMessageId, "delivered"],
  ]);
});

Deno.test("deliverers: an undeliverable reply completes with no Discord copy and no follow-up", async () => {
  const p = memoryPorts();
  const at = conversationWithAgentMessage(p);
  p.discord.failNext("sendMessage", new DiscordFailure(403, 50007));

  const completion = await outboundTable(p).reply(reply(at, "agent text"), recordingAttempt());

  assert.deepEqual(completion, {
    relayed: {
      chatwootMessageId: at.chatwootMessageId,
      discordMessageIds: [],
      conversationId: at.conversationId,
    },
  });
  assert.deepEqual(p.chatwoot.statusUpdates.map((u) => u.status), ["failed"]);
});
