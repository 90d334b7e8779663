/**
 * Intake and status events (src/bridge/intake.ts, status_events.ts)
 * run against small in-memory ports (helpers/memory_ports.ts): no HTTP, no KV,
 * no waiting. Each test asserts on what the ports saw: what Chatwoot stored,
 * what Discord sent, what was queued in a mailbox. The end-to-end tests
 * through the fakes prove the adapters and the wiring; these pin down the
 * rules of each use case.
 */
import type {
  ChatwootMessageEvent,
  ConversationStatusEvent,
} from "../src/bridge/webhook_events.ts";
import assert from "node:assert/strict";
import { acceptDm, acceptMessageEvent, STORED_SEGMENT_CHARS } from "../src/bridge/intake.ts";
import type { OutboundReply } from "../src/bridge/items.ts";
import { applyStatusEvent, type StatusDeps } from "../src/bridge/status_events.ts";
import { type MemoryPorts, memoryPorts } from "./helpers/memory_ports.ts";
import { dm, FIRST, notices, SECOND, USER } from "./helpers/use_case_fixtures.ts";

// ---------------------------------------------------------------- applyStatusEvent

function statusDeps(p: MemoryPorts): StatusDeps {
  return {
    conversations: p.conversations,
    mailbox: p.mailbox,
    texts: {
      resolvedMessage: "Your ticket was resolved.",
      snoozedMessage: "Snoozed for now.",
      pendingMessage: "",
      reopenedMessage: "Your ticket is open again.",
    },
    scope: { inboxId: 7, accountId: 1 },
    nextSeq: p.nextSeq,
    log: p.log,
  };
}

function statusEvent(
  status: string,
  updatedAt: number,
  extra: Partial<ConversationStatusEvent> = {},
): ConversationStatusEvent {
  return {
    event: "conversation_updated",
    conversationId: 50,
    inboxId: 7,
    accountId: 1,
    status,
    statusChanged: true,
    contactIdentifier: `discord:${USER}`,
    contactSourceId: USER,
    lastActivityAt: Math.floor(updatedAt),
    updatedAt,
    ...extra,
  };
}

Deno.test("applyStatusEvent: each status change is told once, whichever webhook says it", async () => {
  const p = memoryPorts();
  const deps = statusDeps(p);
  await p.conversations.update(50, () => ({
    userId: USER,
    status: "open",
    lastActivityAt: 90,
    eventAt: 90,
    outOfOfficeShown: true,
  }));

  const resolved = await applyStatusEvent(deps, statusEvent("resolved", 100.5));
  const echo = await applyStatusEvent(
    deps,
    statusEvent("resolved", 100.6, {
      event: "conversation_status_changed",
      statusChanged: undefined,
    }),
  );

  assert.deepEqual(resolved, { status: "recorded", from: "open", to: "resolved", notice: true });
  assert.deepEqual(echo, { status: "ignored", reason: "no change" });
  assert.deepEqual(p.mailbox.appended.map((a) => a.dedupe), [
    { kind: "notice", id: "status:50:resolved:100.5" },
  ]);
  assert.deepEqual(notices(p).map((n) => [n.embed.title, n.embed.description, n.embed.tone]), [
    ["Ticket resolved", "Your ticket was resolved.", "success"],
  ]);
  const state = p.conversations.states.get(50);
  assert.equal(state?.status, "resolved");
  assert.equal(state?.outOfOfficeShown, false, "a resolved ticket shows out-of-office again");
});

Deno.test("applyStatusEvent: a late older event changes nothing; reopened and hand-over are told apart", async () => {
  const p = memoryPorts();
  const deps = statusDeps(p);
  await applyStatusEvent(deps, statusEvent("resolved", 200));

  assert.deepEqual(await applyStatusEvent(deps, statusEvent("open", 150)), {
    status: "ignored",
    reason: "no change",
  });
  assert.equal(p.conversations.states.get(50)?.status, "resolved");

  assert.deepEqual(await applyStatusEvent(deps, statusEvent("open", 300)), {
    status: "recorded",
    from: "resolved",
    to: "open",
    notice: true,
  });
  // pending has no text configured; pending → open is a hand-over, not a reopening.
  assert.equal((await applyStatusEvent(deps, statusEvent("pending", 400))).status, "recorded");
  await applyStatusEvent(deps, statusEvent("open", 500));
  assert.deepEqual(notices(p).map((n) => n.embed.title), ["Ticket resolved", "Ticket reopened"]);
});

Deno.test("applyStatusEvent: other inboxes and accounts, unchanged statuses and non-Discord contacts are ignored untouched", async () => {
  const p = memoryPorts();
  const deps = statusDeps(p);
  const cases: [Partial<ConversationStatusEvent>, string][] = [
    [{ inboxId: 8 }, "other inbox"],
    [{ accountId: 2 }, "other account"],
    [{ statusChanged: false }, "status unchanged"],
    [
      { contactIdentifier: "someone@example.com", contactSourceId: "abc" },
      "contact is not a Discord user",
    ],
  ];
  for (const [extra, reason] of cases) {
    assert.deepEqual(await applyStatusEvent(deps, statusEvent("resolved", 100, extra)), {
      status: "ignored",
      reason,
    });
  }
  assert.equal(p.conversations.states.size, 0);
  assert.deepEqual(p.mailbox.appended, []);
});

// ---------------------------------------------------------------- intake

Deno.test("acceptDm: ALLOW_FROM admits listed ids and usernames (any case) only; a DM is queued once, ordered by its id", async () => {
  const p = memoryPorts();
  const deps = {
    mailbox: p.mailbox,
    log: p.log,
    allowFrom: new Set(["bob", "222222222222222222"]),
  };
  const from = (id: string, username: string, messageId: string) =>
    dm(messageId, "hi", { author: { id, username } });

  assert.equal(await acceptDm(deps, from(USER, "alice", FIRST)), false);
  assert.deepEqual(p.mailbox.appended, [], "an unlisted sender leaves no trace");

  const byName = from("333333333333333333", "Bob", FIRST);
  assert.equal(await acceptDm(deps, byName), true);
  assert.equal(await acceptDm(deps, from("222222222222222222", "carol", SECOND)), true);
  assert.equal(await acceptDm(deps, byName), false, "the same DM again");

  assert.deepEqual(p.mailbox.appended[0], {
    dir: "in",
    userId: "333333333333333333",
    items: [{ seq: BigInt(FIRST), item: byName }],
    dedupe: { kind: "dm", id: FIRST },
  });
  assert.equal(p.mailbox.appended.length, 2);

  assert.equal(await acceptDm({ ...deps, allowFrom: undefined }, from(USER, "alice", "13")), true);
});

function messageEvent(extra: Partial<ChatwootMessageEvent> = {}): ChatwootMessageEvent {
  return {
    event: "message_created",
    messageId: 600,
    messageType: "outgoing",
    private: false,
    content: "Hello from support",
    contentType: "text",
    inboxId: 7,
    accountId: 1,
    conversationId: 50,
    contactIdentifier: `discord:${USER}`,
    contactSourceId: USER,
    ...extra,
  };
}

function intakeDeps(p: MemoryPorts) {
  return {
    mailbox: p.mailbox,
    log: p.log,
    scope: { inboxId: 7, accountId: 1, csatEnabled: true },
    nextSeq: p.nextSeq,
  };
}

Deno.test("acceptMessageEvent: private notes, other inboxes and echoes are dropped before the mailbox", async () => {
  const p = memoryPorts();
  const deps = intakeDeps(p);
  assert.deepEqual(await acceptMessageEvent(deps, messageEvent({ private: true }), "d1"), {
    status: "dropped",
    reason: "private note",
  });
  assert.deepEqual(await acceptMessageEvent(deps, messageEvent({ inboxId: 8 }), "d2"), {
    status: "dropped",
    reason: "other inbox",
  });
  assert.deepEqual(await acceptMessageEvent(deps, messageEvent({ messageType: "incoming" })), {
    status: "dropped",
    reason: "incoming message",
  });
  assert.deepEqual(p.mailbox.appended, []);
  assert.equal(p.mailbox.seen.size, 0, "a dropped event does not use up its delivery id");
});

Deno.test("acceptMessageEvent: an agent's reply is queued once, by message id and by delivery id", async () => {
  const p = memoryPorts();
  const deps = intakeDeps(p);

  assert.deepEqual(await acceptMessageEvent(deps, messageEvent(), "d-1"), {
    status: "queued",
    discordUserId: USER,
  });
  assert.deepEqual(await acceptMessageEvent(deps, messageEvent(), "d-2"), { status: "duplicate" });
  assert.deepEqual(
    await acceptMessageEvent(deps, messageEvent({ messageId: 601 }), "d-1"),
    { status: "duplicate" },
    "a replayed delivery",
  );

  assert.equal(p.mailbox.appended.length, 1);
  const [queued] = p.mailbox.appended;
  assert.equal(queued.dir, "out");
  assert.equal(queued.userId, USER);
  assert.deepEqual(queued.dedupe, [
    { kind: "message_created", id: "600" },
    { kind: "delivery", id: "d-1" },
  ]);
  const [item] = p.mailbox.items("out") as OutboundReply[];
  assert.deepEqual(
    [item.kind, item.conversationId, item.chatwootMessageId, item.content],
    ["reply", 50, 600, "Hello from support"],
  );

  await acceptMessageEvent(deps, messageEvent({ messageId: 602 }), "x".repeat(201));
  assert.deepEqual(p.mailbox.appended[1].dedupe, [{ kind: "message_created", id: "602" }]);
});

Deno.test("acceptMessageEvent: a very long reply is stored as segments in one append; surveys and deletions get their own kinds", async () => {
  const p = memoryPorts();
  const deps = intakeDeps(p);
  const long = `${"x".repeat(STORED_SEGMENT_CHARS)} ${"y".repeat(100)}`;
  await acceptMessageEvent(deps, messageEvent({ content: long }));
  const segments = p.mailbox.appended[0].items.map((i) => i.item as OutboundReply);
  assert.deepEqual(segments.map((s) => [s.segment, s.content.length]), [
    [0, STORED_SEGMENT_CHARS],
    [1, 100],
  ]);

  const uuid = "0b8e6f2a-3c1d-4e5f-8a9b-0c1d2e3f4a5b";
  await acceptMessageEvent(
    deps,
    messageEvent({
      messageId: 700,
      messageType: "template",
      contentType: "input_csat",
      content: `Rate us: https://cw.example/survey/responses/${uuid}`,
    }),
  );
  await acceptMessageEvent(
    deps,
    messageEvent({ event: "message_updated", messageId: 600, deleted: true }),
  );
  assert.deepEqual(
    p.mailbox.appended.slice(1).map((a) => [a.items[0].item, a.dedupe]),
    [
      [
        {
          kind: "csat_prompt",
          discordUserId: USER,
          conversationId: 50,
          uuid,
          receivedAt: (p.mailbox.appended[1].items[0].item as { receivedAt: number }).receivedAt,
        },
        [{ kind: "message_created", id: "700" }],
      ],
      [
        {
          kind: "agent_delete",
          discordUserId: USER,
          chatwootMessageId: 600,
          receivedAt: (p.mailbox.appended[2].items[0].item as { receivedAt: number }).receivedAt,
        },
        [{ kind: "message_deleted", id: "600" }],
      ],
    ],
  );
});
