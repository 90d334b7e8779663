/**
 * Discord → Chatwoot use cases (forwardDm, src/bridge/inbound.ts)
 * run against small in-memory ports (helpers/memory_ports.ts): no HTTP, no KV,
 * no waiting. Each test asserts on what the ports saw: what Chatwoot stored,
 * what Discord sent, what was queued in a mailbox. The end-to-end tests
 * through the fakes prove the adapters and the wiring; these pin down the
 * rules of each use case.
 */
import assert from "node:assert/strict";
import { forwardDm, type InboundDeps } from "../src/bridge/inbound.ts";
import type { InboundDm } from "../src/bridge/items.ts";
import { type MemoryPorts, memoryPorts, recordingAttempt } from "./helpers/memory_ports.ts";
import { ChatwootFailure } from "./helpers/service_failures.ts";
import {
  CHANNEL,
  dm,
  dmDeps,
  EVENING,
  FIRST,
  NEXT_MORNING_S,
  notices,
  OFFICE_HOURS,
  SECOND,
  TEXTS,
  USER,
} from "./helpers/use_case_fixtures.ts";

/** Runs forwardDm as one mailbox attempt; returns its result and the checkpoints it saved. */
async function forward(
  p: MemoryPorts,
  item: InboundDm,
  options: { firstAttempt?: boolean; progress?: object; deps?: Partial<InboundDeps> } = {},
) {
  const attempt = recordingAttempt({
    firstAttempt: options.firstAttempt ?? true,
    progress: options.progress,
  });
  const result = await forwardDm(
    { ...dmDeps(p, options.deps), checkpoint: (progress) => attempt.checkpoint(progress) },
    item,
    attempt.progress,
    attempt,
  );
  return { result, saved: attempt.saved };
}

Deno.test("forwardDm: a new user's first DM creates the contact, the conversation and the message with the Discord id as source_id", async () => {
  const p = memoryPorts();
  const { result } = await forward(p, dm(FIRST, "my order is late"));

  assert.deepEqual(p.chatwoot.calls, [
    "createContact",
    "createConversation",
    "createIncomingMessage",
  ]);
  const [contact] = p.chatwoot.contacts.values();
  assert.equal(contact.identifier, `discord:${USER}`);
  assert.equal(contact.name, "Alice Liddell");
  assert.deepEqual(contact.contactInboxes, [{ inboxId: 7, sourceId: USER }]);
  const [conversation] = p.chatwoot.conversations.values();
  assert.equal(conversation.contactId, contact.id);
  const messages = p.chatwoot.incoming(conversation.id);
  assert.deepEqual(messages.map((m) => [m.sourceId, m.content]), [[FIRST, "my order is late"]]);
  assert.deepEqual(result, { conversationId: conversation.id, chatwootMessageId: messages[0].id });
  assert.equal(p.tickets.records.get(USER)?.conversationId, conversation.id);
  assert.deepEqual(p.discord.reactions, [{ channelId: CHANNEL, messageId: FIRST, emoji: "✅" }]);
  assert.deepEqual(p.mailbox.appended, [], "no greeting is configured");
});

Deno.test("forwardDm: a later DM posts one message in the same conversation, nothing else", async () => {
  const p = memoryPorts();
  const first = await forward(p, dm(FIRST));
  const callsBefore = p.chatwoot.calls.length;

  const later = await forward(p, dm(SECOND, "any news?"));

  assert.deepEqual(p.chatwoot.calls.slice(callsBefore), ["createIncomingMessage"]);
  assert.equal(p.chatwoot.contacts.size, 1);
  assert.equal(p.chatwoot.conversations.size, 1);
  assert.equal(later.result?.conversationId, first.result?.conversationId);
  assert.deepEqual(
    p.chatwoot.incoming(later.result!.conversationId).map((m) => m.sourceId),
    [FIRST, SECOND],
  );
});

Deno.test("forwardDm: a retry whose message Chatwoot already has finds it by source_id and does not post again", async () => {
  const p = memoryPorts();
  const first = await forward(p, dm(FIRST));
  const callsBefore = p.chatwoot.calls.length;

  // The earlier attempt died after posting, before its completion was committed.
  const retry = await forward(p, dm(FIRST), { firstAttempt: false });

  assert.deepEqual(p.chatwoot.calls.slice(callsBefore), ["listMessages"]);
  assert.equal(p.chatwoot.incoming(first.result!.conversationId).length, 1);
  assert.deepEqual(retry.result, first.result);
});

Deno.test('forwardDm: outside working hours in "deny" mode nothing is created and the refusal notice is queued', async () => {
  const p = memoryPorts();
  p.inbox.settings = {
    ...p.inbox.settings,
    workingHoursEnabled: true,
    workingHours: OFFICE_HOURS,
    outOfOfficeMessage: "Sorry {{contact.first_name}}, {{inbox.name}} is closed.",
  };
  const deps = { texts: { ...TEXTS, outsideHoursAccept: false }, now: () => EVENING };

  const { result } = await forward(p, dm(FIRST), { deps });

  assert.equal(result, undefined);
  assert.deepEqual(p.chatwoot.calls, [], "Chatwoot saw nothing");
  assert.deepEqual(p.discord.reactions, [], "no ✅");
  assert.equal(p.mailbox.appended.length, 1);
  assert.deepEqual(p.mailbox.appended[0].dedupe, { kind: "notice", id: `ooo-refused:${FIRST}` });
  const [refusal] = notices(p);
  assert.equal(refusal.discordUserId, USER);
  assert.equal(refusal.embed.tone, "danger");
  assert.match(refusal.embed.description, /^Sorry Alice, Support is closed\./);
  assert.match(refusal.embed.description, /not passed on/);
  assert.ok(refusal.embed.description.includes(`<t:${NEXT_MORNING_S}:F>`), "when we are back");
});

Deno.test('forwardDm: outside working hours in "accept" mode the DM is posted and "we\'re offline" is told once per conversation', async () => {
  const p = memoryPorts();
  p.inbox.settings = { ...p.inbox.settings, workingHoursEnabled: true, workingHours: OFFICE_HOURS };
  const deps = { now: () => EVENING };

  const first = await forward(p, dm(FIRST), { deps });
  await forward(p, dm(SECOND), { deps });

  assert.equal(p.chatwoot.incoming(first.result!.conversationId).length, 2);
  assert.deepEqual(notices(p).map((n) => [n.noticeId, n.embed.title]), [
    [`ooo:${first.result!.conversationId}:${FIRST}`, "We're offline"],
  ]);
  assert.match(notices(p)[0].embed.description, /^We are closed right now\./);
});

Deno.test("forwardDm: a contact blocked in Chatwoot opens no ticket and gets the notice", async (t) => {
  await t.step("known to the bridge as blocked", async () => {
    const p = memoryPorts();
    await p.tickets.save({ userId: USER, contactId: 5, sourceId: USER, blocked: true });

    const { result } = await forward(p, dm(FIRST));

    assert.equal(result, undefined);
    assert.deepEqual(p.chatwoot.calls, []);
    assert.deepEqual(
      notices(p).map((n) => [n.noticeId, n.embed.title]),
      [[`blocked:${FIRST}`, "Message not delivered"]],
    );
  });
  await t.step("found blocked in Chatwoot by a fresh bridge", async () => {
    const p = memoryPorts();
    p.chatwoot.addContact(`discord:${USER}`, { blocked: true });

    const { result } = await forward(p, dm(FIRST));

    assert.equal(result, undefined);
    assert.deepEqual(p.chatwoot.calls, ["createContact", "searchContacts"]);
    assert.equal(p.chatwoot.conversations.size, 0);
    assert.deepEqual(notices(p).map((n) => n.noticeId), [`blocked:${FIRST}`]);
  });
});

Deno.test("forwardDm: a new ticket is greeted once, with the inbox's own greeting when it has one", async (t) => {
  const greeting = {
    texts: { ...TEXTS, greetingEnabled: true, greetingMessage: "Hi {{contact.first_name}}!" },
  };
  await t.step("GREETING_MESSAGE", async () => {
    const p = memoryPorts();
    const { result } = await forward(p, dm(FIRST), { deps: greeting });
    await forward(p, dm(SECOND), { deps: greeting });

    assert.deepEqual(notices(p).map((n) => [n.noticeId, n.embed.description]), [
      [`greeting:${result!.conversationId}`, "Hi Alice!"],
    ]);
  });
  await t.step("the inbox's greeting wins", async () => {
    const p = memoryPorts();
    p.inbox.settings = {
      ...p.inbox.settings,
      greetingEnabled: true,
      greetingMessage: "Welcome to {{inbox.name}}, {{contact.name}}.",
    };
    await forward(p, dm(FIRST), { deps: greeting });

    assert.deepEqual(notices(p).map((n) => n.embed.description), [
      "Welcome to Support, Alice Liddell.",
    ]);
  });
});

Deno.test("forwardDm: while Chatwoot is down the user hears once that their DM waits; delivery clears the mark", async (t) => {
  const down = new ChatwootFailure(503);
  const run = (p: MemoryPorts, attempt: ReturnType<typeof recordingAttempt>) =>
    forwardDm(
      { ...dmDeps(p), checkpoint: (progress) => attempt.checkpoint(progress) },
      dm(FIRST),
      attempt.progress,
      attempt,
    );

  await t.step("told once, remembered with the DM, cleared by its delivery", async () => {
    const p = memoryPorts();
    p.chatwoot.failNext("createContact", down, down);

    const first = recordingAttempt();
    await assert.rejects(run(p, first), (e) => e === down);
    assert.deepEqual(first.saved, [{ delayNotified: true }]);
    await assert.rejects(run(p, recordingAttempt({ firstAttempt: false })), (e) => e === down);
    assert.deepEqual(notices(p).map((n) => n.noticeId), [`delayed:${FIRST}`]);
    assert.equal(p.conversations.delayNotified.has(USER), true);

    const last = recordingAttempt({ firstAttempt: false, progress: first.saved[0] });
    assert.ok(await run(p, last));
    assert.equal(p.conversations.delayNotified.has(USER), false);
    assert.equal(notices(p).length, 1);
  });
  await t.step("a DM whose progress says the user was told is not told again", async () => {
    const p = memoryPorts();
    p.chatwoot.failNext("createContact", down);
    // Another DM of theirs got through meanwhile and cleared the user's mark.
    const again = recordingAttempt({ firstAttempt: false, progress: { delayNotified: true } });
    await assert.rejects(run(p, again), (e) => e === down);
    assert.deepEqual(notices(p), []);
  });
});
