/**
 * The fakes' interactive-message behaviour, checked on the fakes alone (no
 * bridge), so product tests can trust it: fake Chatwoot sends interactive
 * messages and answers the Client API's `submitted_values` update, the
 * account API stores team, labels, priority and contact emails like Chatwoot;
 * fake Discord dispatches select-menu and modal interactions, applies type 6/7
 * callbacks to the component's message, and refuses components outside
 * Discord's limits with 400 / 50035.
 */
import assert from "node:assert/strict";
import { FakeChatwoot } from "../src/fakes/fake_chatwoot.ts";
import { FakeDiscord, type FakeMessage, formProblems } from "../src/fakes/fake_discord.ts";
import { checkRequestBody } from "./helpers/swagger_check.ts";

async function withChatwoot(fn: (cw: FakeChatwoot) => Promise<void>) {
  const cw = FakeChatwoot.start({ checkRequest: checkRequestBody });
  try {
    await fn(cw);
  } finally {
    await cw.close();
  }
}

/** A contact with an API-inbox source id and one conversation, made through the account API. */
async function ticket(cw: FakeChatwoot, sourceId: string, body: Record<string, unknown> = {}) {
  const contact = await cw.asAgent("/contacts", { name: sourceId, inbox_id: cw.inboxId });
  const contactId = contact.payload.contact.id;
  const conversation = await cw.asAgent("/conversations", {
    inbox_id: cw.inboxId,
    contact_id: contactId,
    source_id: sourceId,
    ...body,
  });
  return { contactId, conversationId: conversation.id };
}

async function account(cw: FakeChatwoot, method: string, path: string, body?: unknown) {
  const res = await fetch(`${cw.baseUrl}/api/v1/accounts/${cw.accountId}${path}`, {
    method,
    headers: { "api_access_token": cw.token, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function answer(cw: FakeChatwoot, path: string[], body: unknown) {
  const [identifier, sourceId, conversationId, messageId] = path;
  return fetch(
    `${cw.baseUrl}/public/api/v1/inboxes/${identifier}/contacts/${sourceId}/conversations/${conversationId}/messages/${messageId}`,
    {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    },
  );
}

const SELECT = { items: [{ title: "Billing", value: "billing" }, { title: "Bug", value: "bug" }] };

Deno.test("fake chatwoot: an agent bot's input_select arrives as Chatwoot 4.x sends it", async () => {
  await withChatwoot(async (cw) => {
    const { conversationId } = await ticket(cw, "discord:1");
    const payload = cw.agentReply(conversationId, "Pick one", {
      contentType: "input_select",
      contentAttributes: SELECT,
      sender: "agent_bot",
    });
    assert.equal(payload.event, "message_created");
    assert.equal(payload.content_type, "input_select");
    assert.deepEqual(payload.content_attributes, SELECT);
    assert.deepEqual(payload.sender, {
      id: 9,
      name: "Support Bot",
      avatar_url: "",
      type: "agent_bot",
    });
    const email = cw.agentReply(conversationId, "Your email?", {
      contentType: "input_email",
      messageType: "template",
    });
    assert.equal(email.content_type, "input_email");
    assert.equal(email.sender, null);
    // Chatwoot's validator refuses cards without actions: such a webhook never exists.
    assert.throws(() =>
      cw.agentReply(conversationId, "Cards", {
        contentType: "cards",
        contentAttributes: { items: [{ title: "A" }] },
      }), /missing actions/);
    assert.throws(() =>
      cw.agentReply(conversationId, "Pick", {
        contentType: "input_select",
        contentAttributes: { items: [{ title: "A", value: "a", emoji: "x" }] },
      }), /unknown keys emoji/);
  });
});

Deno.test("fake chatwoot: the Client API answer is looked up like Chatwoot and filtered", async () => {
  await withChatwoot(async (cw) => {
    const alice = await ticket(cw, "discord:alice");
    const bob = await ticket(cw, "discord:bob");
    const question = cw.agentReply(alice.conversationId, "Pick one", {
      contentType: "input_select",
      contentAttributes: SELECT,
    });
    const other = cw.agentReply(bob.conversationId, "Other");
    const id = String(question.id);
    const inbox = String(cw.inbox.inbox_identifier);
    const chosen = { submitted_values: [{ title: "Billing", value: "billing" }] };
    const misses = [
      ["wrongInbox", "discord:alice", String(alice.conversationId), id],
      [inbox, "discord:nobody", String(alice.conversationId), id],
      [inbox, "discord:alice", String(bob.conversationId), id], // bob's conversation
      [inbox, "discord:alice", String(alice.conversationId), String(other.id)], // not in it
    ];
    for (const path of misses) {
      const res = await answer(cw, path, chosen);
      assert.equal(res.status, 404, path.join(" "));
      assert.deepEqual(await res.json(), { status: 404, error: "Not Found" });
    }
    assert.equal(cw.submissions.length, 0);

    const path = [inbox, "discord%3Aalice", String(alice.conversationId), id];
    const res = await answer(cw, path, {
      submitted_values: [{ title: "Billing", value: "billing", extra: 1, nested: { a: 1 } }, "x"],
    });
    assert.equal(res.status, 200);
    const json = await res.json();
    assert.deepEqual(json.content_attributes.submitted_values, chosen.submitted_values);
    assert.equal(json.conversation_id, alice.conversationId);
    assert.equal(json.message_type, 1);
    assert.equal(json.sender.type, "user");
    const stored = cw.messages.find((m) => m.id === question.id)!;
    assert.deepEqual(stored.content_attributes.items, SELECT.items, "items are kept");
    // A second answer overwrites the first; each accepted one is recorded.
    await (await answer(cw, path, { submitted_values: [{ title: "Bug", value: "bug" }] })).body
      ?.cancel();
    assert.deepEqual(stored.content_attributes.submitted_values, [{ title: "Bug", value: "bug" }]);
    assert.equal(cw.submissions.length, 2);
    // No submitted_values: nothing changes, nothing recorded.
    await (await answer(cw, path, { submitted_email: "a@b.c" })).body?.cancel();
    assert.equal(cw.submissions.length, 2);
    const updated = cw.messageUpdatedPayload(question.id as number);
    assert.equal(updated.event, "message_updated");
    assert.deepEqual((updated.content_attributes as Record<string, unknown>).submitted_values, [
      { title: "Bug", value: "bug" },
    ]);
    const route =
      "PATCH /public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages/{message_id}";
    assert.equal(cw.callsTo(route).length, 7);
    // Faults can be injected; the message is then left alone.
    cw.intercept = () => new Response("down", { status: 503 });
    const failed = await answer(cw, path, chosen);
    await failed.body?.cancel();
    assert.equal(failed.status, 503);
    assert.deepEqual(stored.content_attributes.submitted_values, [{ title: "Bug", value: "bug" }]);
    assert.equal(cw.callsTo(route).length, 8);
  });
});

Deno.test("fake chatwoot: a changed answer sends message_updated when autoWebhooks is on", async () => {
  const received: Record<string, unknown>[] = [];
  const bridge = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    received.push(await req.json());
    return new Response("ok");
  });
  try {
    await withChatwoot(async (cw) => {
      cw.webhookUrl = `http://127.0.0.1:${bridge.addr.port}/webhook`;
      cw.autoWebhooks = true;
      const { conversationId } = await ticket(cw, "discord:carol");
      const q = cw.agentReply(conversationId, "Pick", {
        contentType: "input_select",
        contentAttributes: SELECT,
      });
      const path = [String(cw.inbox.inbox_identifier), "discord:carol", String(conversationId)];
      const body = { submitted_values: [{ title: "Bug", value: "bug" }] };
      await (await answer(cw, [...path, String(q.id)], body)).body?.cancel();
      await (await answer(cw, [...path, String(q.id)], body)).body?.cancel(); // no change
      await cw.waitFor(() => cw.autoDeliveries.length === 1, "the message_updated delivery");
      assert.equal(received.length, 1);
      assert.equal(received[0].event, "message_updated");
      assert.equal(received[0].id, q.id);
    });
  } finally {
    await bridge.shutdown();
  }
});

Deno.test("fake chatwoot: team, custom attributes, labels, priority and contact email", async () => {
  await withChatwoot(async (cw) => {
    cw.teams.set(4, "Billing");
    const { contactId, conversationId } = await ticket(cw, "discord:dave", {
      team_id: 4,
      custom_attributes: { topic: "billing" },
      status: "pending",
    });
    const got = await account(cw, "GET", `/conversations/${conversationId}`);
    assert.deepEqual(got.body.meta.team, { id: 4, name: "Billing" });
    assert.deepEqual(got.body.custom_attributes, { topic: "billing" });
    assert.equal(got.body.status, "pending");
    const stored = cw.conversations.find((c) => c.id === conversationId)!;
    assert.equal(stored.team_id, 4);

    const labels = await account(cw, "POST", `/conversations/${conversationId}/labels`, {
      labels: ["billing", " vip ", "billing"],
    });
    assert.deepEqual(labels.body, { payload: ["billing", "vip"] });
    await account(cw, "POST", `/conversations/${conversationId}/labels`, { labels: ["refund"] });
    assert.deepEqual(stored.labels, ["refund"], "Chatwoot replaces the list");

    const high = await account(cw, "POST", `/conversations/${conversationId}/toggle_priority`, {
      priority: "high",
    });
    assert.equal(high.status, 200);
    assert.equal(stored.priority, "high");
    const none = await account(cw, "POST", `/conversations/${conversationId}/toggle_priority`, {
      priority: "none",
    });
    assert.equal(none.status, 500, "'none' is not in Chatwoot's priority enum");
    assert.equal(stored.priority, "high");
    await account(cw, "POST", `/conversations/${conversationId}/toggle_priority`, {
      priority: null,
    });
    assert.equal(stored.priority, null);

    const webhook = cw.agentReply(conversationId, "hi").conversation as Record<string, unknown>;
    assert.deepEqual((webhook.meta as Record<string, unknown>).team, { id: 4, name: "Billing" });
    assert.deepEqual(webhook.labels, ["refund"]);
    assert.deepEqual(webhook.custom_attributes, { topic: "billing" });

    const other = await cw.asAgent("/contacts", { name: "Erin", email: "erin@acme.test" });
    const taken = await account(cw, "PUT", `/contacts/${contactId}`, { email: "ERIN@acme.test" });
    assert.equal(taken.status, 422);
    assert.deepEqual(taken.body, {
      message: "Email has already been taken",
      attributes: ["email"],
    });
    const ok = await account(cw, "PUT", `/contacts/${contactId}`, {
      email: "Dave@Acme.test",
      custom_attributes: { plan: "pro" },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.payload.email, "dave@acme.test");
    assert.ok(other.payload.contact.id !== contactId);
    // The swagger lists "none" (a 500 in Chatwoot) and not null (what clears it).
    assert.deepEqual(cw.specViolations.map((v) => v.split(": ")[1]), [
      'field "priority" should be "string"',
      'field "priority" must be one of ["urgent","high","medium","low","none"]',
    ]);
  });
});

// ------------------------------------------------------------ fake Discord

const USER = "222222222222222222";

/** A raw gateway session on the fake, collecting INTERACTION_CREATE payloads. */
async function gateway(discord: FakeDiscord) {
  const interactions: Record<string, unknown>[] = [];
  const socket = new WebSocket(discord.gatewayUrl);
  const ready = Promise.withResolvers<void>();
  socket.onmessage = (event) => {
    const packet = JSON.parse(String(event.data));
    if (packet.op === 10) {
      socket.send(JSON.stringify({ op: 2, d: { token: `Bot ${discord.token}`, intents: 0 } }));
    }
    if (packet.t === "READY") ready.resolve();
    if (packet.t === "INTERACTION_CREATE") interactions.push(packet.d);
  };
  await ready.promise;
  const closed = new Promise((r) => (socket.onclose = r));
  return {
    interactions,
    async next(count: number) {
      await discord.waitFor(() => interactions.length >= count, `interaction ${count}`);
      return interactions[count - 1];
    },
    async close() {
      socket.close();
      await closed;
    },
  };
}

async function rest(discord: FakeDiscord, method: string, path: string, body?: unknown) {
  const res = await fetch(`${discord.restBase}/v10${path}`, {
    method,
    headers: { authorization: `Bot ${discord.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const button = (id: string, label = id) => ({ type: 2, style: 1, label, custom_id: id });
const options = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ label: `Option ${i}`, value: `v${i}` }));
const selectRow = (id: string, n = 3) => ({
  type: 1,
  components: [{ type: 3, custom_id: id, options: options(n), placeholder: "Pick" }],
});

Deno.test("fake discord: component, embed and modal limits", () => {
  const ok = {
    content: "Pick one",
    embeds: [{ title: "t", description: "d" }],
    components: [
      { type: 1, components: ["a", "b", "c", "d", "e"].map((id) => button(id)) },
      selectRow("s", 25),
      { type: 1, components: [{ type: 2, style: 5, label: "Docs", url: "https://x.test" }] },
    ],
  };
  assert.deepEqual(formProblems(ok, "message"), []);
  const bad = (body: Record<string, unknown>, pattern: RegExp) => {
    const problems = formProblems(body, "message");
    assert.ok(problems.some((p) => pattern.test(p)), `${JSON.stringify(problems)} ~ ${pattern}`);
  };
  bad({ components: Array.from({ length: 6 }, (_, i) => selectRow(`s${i}`)) }, /at most 5/);
  bad(
    {
      components: [{ type: 1, components: ["1", "2", "3", "4", "5", "6"].map((id) => button(id)) }],
    },
    /1 to 5/,
  );
  bad(
    { components: [{ type: 1, components: [button("a"), selectRow("s").components[0]] }] },
    /exactly one select/,
  );
  bad(
    { components: [{ type: 1, components: [button("a", "x".repeat(81))] }] },
    /label: must be 80/,
  );
  bad(
    { components: [{ type: 1, components: [{ type: 2, style: 1, label: "x" }] }] },
    /custom_id: this field is required/,
  );
  bad(
    { components: [{ type: 1, components: [{ ...button("a"), url: "https://x" }] }] },
    /only link buttons/,
  );
  bad({
    components: [{
      type: 1,
      components: [{ type: 2, style: 5, label: "x", url: "https://x", custom_id: "a" }],
    }],
  }, /link button has no custom id/);
  bad({
    components: [{ type: 1, components: [button("a")] }, { type: 1, components: [button("a")] }],
  }, /unique/);
  bad({ components: [selectRow("s", 26)] }, /1 to 25 options/);
  bad({
    components: [{
      type: 1,
      components: [{ type: 3, custom_id: "s", options: [{ label: "x".repeat(101), value: "v" }] }],
    }],
  }, /label: must be 100/);
  bad({
    components: [{
      type: 1,
      components: [{ type: 3, custom_id: "s", options: options(2), placeholder: "p".repeat(151) }],
    }],
  }, /placeholder/);
  bad({
    components: [{
      type: 1,
      components: [{ type: 3, custom_id: "s", options: options(2), max_values: 26 }],
    }],
  }, /max_values/);
  bad({ embeds: Array.from({ length: 11 }, () => ({ title: "t" })) }, /at most 10 embeds/);
  bad({ embeds: [{ title: "t".repeat(257) }] }, /title: must be 256/);
  bad({ embeds: [{ description: "d".repeat(4097) }] }, /description: must be 4096/);

  const input = (id: string, extra: Record<string, unknown> = {}) => ({
    type: 4,
    custom_id: id,
    style: 1,
    ...extra,
  });
  const rowModal = {
    custom_id: "m",
    title: "Form",
    components: [{ type: 1, components: [input("a", { label: "Name", max_length: 4000 })] }],
  };
  assert.deepEqual(formProblems(rowModal, "modal"), []);
  const labelModal = {
    custom_id: "m",
    title: "Form",
    components: [
      { type: 18, label: "Email", component: input("email", { placeholder: "you@x.y" }) },
      { type: 18, label: "Topic", component: selectRow("topic").components[0] },
    ],
  };
  assert.deepEqual(formProblems(labelModal, "modal"), []);
  const badModal = (body: Record<string, unknown>, pattern: RegExp) => {
    const problems = formProblems({ ...rowModal, ...body }, "modal");
    assert.ok(problems.some((p) => pattern.test(p)), `${JSON.stringify(problems)} ~ ${pattern}`);
  };
  badModal({ title: "t".repeat(46) }, /title: must be 45/);
  badModal({ components: [] }, /1 to 5/);
  badModal({
    components: Array.from(
      { length: 6 },
      (_, i) => ({ type: 18, label: "L", component: input(`i${i}`) }),
    ),
  }, /1 to 5/);
  badModal(
    { components: [{ type: 1, components: [input("a")] }] },
    /label: this field is required/,
  );
  badModal(
    { components: [{ type: 1, components: [input("a", { label: "x".repeat(46) })] }] },
    /label: must be 45/,
  );
  badModal(
    { components: [{ type: 1, components: [input("a", { label: "x", style: 3 })] }] },
    /style/,
  );
  badModal({
    components: [{ type: 1, components: [input("a", { label: "x", max_length: 4001 })] }],
  }, /max_length/);
  badModal({
    components: [{
      type: 1,
      components: [input("a", { label: "x", placeholder: "p".repeat(101) })],
    }],
  }, /placeholder/);
});

Deno.test("fake discord: invalid components are refused with 400 / 50035 and not stored", async () => {
  const discord = FakeDiscord.start();
  try {
    const channel = discord.dmChannelOf(USER);
    const refused = await rest(discord, "POST", `/channels/${channel}/messages`, {
      content: "x",
      components: [{ type: 1, components: ["1", "2", "3", "4", "5", "6"].map((id) => button(id)) }],
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 50035);
    assert.equal(refused.body.message, "Invalid Form Body");
    assert.ok(refused.body.errors.components["0"].components._errors.length > 0);
    assert.equal(discord.sent.length, 0);
    assert.equal(discord.invalidBodies.length, 1);

    const sent = await rest(discord, "POST", `/channels/${channel}/messages`, {
      content: "x",
      components: [{ type: 1, components: [button("a")] }],
    });
    assert.equal(sent.status, 200);
    const edit = await rest(discord, "PATCH", `/channels/${channel}/messages/${sent.body.id}`, {
      components: [{ type: 1, components: [{ ...button("a"), label: "x".repeat(81) }] }],
    });
    assert.equal(edit.status, 400);
    assert.equal(
      (discord.sent[0].components as { components: { label: string }[] }[])[0]
        .components[0].label,
      "a",
    );
  } finally {
    await discord.close();
  }
});

Deno.test("fake discord: select menus, type 6/7 callbacks and modals from a message", async () => {
  const discord = FakeDiscord.start();
  const gw = await gateway(discord);
  try {
    const channel = discord.dmChannelOf(USER);
    const sent = await rest(discord, "POST", `/channels/${channel}/messages`, {
      content: "Pick one",
      components: [selectRow("ia:1:select"), { type: 1, components: [button("ia:1:form")] }],
    });
    const message = discord.sent.find((m) => m.id === sent.body.id) as FakeMessage;

    // A select: type 3 with values and the message; answered with 7, which edits it.
    const pick = discord.chooseOption(USER, message, "ia:1:select", ["v1"]);
    const seen = await gw.next(1);
    assert.equal(seen.type, 3);
    assert.deepEqual(seen.data, { custom_id: "ia:1:select", component_type: 3, values: ["v1"] });
    assert.equal((seen.message as FakeMessage).id, message.id);
    const disabled = [{ type: 1, components: [{ ...button("ia:1:form"), disabled: true }] }];
    const update = await rest(discord, "POST", `/interactions/${pick.id}/${pick.token}/callback`, {
      type: 7,
      data: { content: "Picked: Option 1", components: disabled },
    });
    assert.equal(update.status, 204);
    assert.equal(message.content, "Picked: Option 1");
    assert.deepEqual(message.components, disabled);
    assert.equal(discord.messageEdits.at(-1)?.via, "interaction");
    const again = await rest(discord, "POST", `/interactions/${pick.id}/${pick.token}/callback`, {
      type: 6,
    });
    assert.equal(again.body.code, 40060, "a second callback stays an error");

    // A click deferred with 6: @original is the clicked message.
    const click = discord.clickButton(USER, message, "ia:1:form");
    assert.equal(((await gw.next(2)).message as FakeMessage).content, "Picked: Option 1");
    await rest(discord, "POST", `/interactions/${click.id}/${click.token}/callback`, { type: 6 });
    const edited = await rest(
      discord,
      "PATCH",
      `/webhooks/${discord.applicationId}/${click.token}/messages/@original`,
      { content: "Answered" },
    );
    assert.equal(edited.body.id, message.id);
    assert.equal(message.content, "Answered");
    assert.deepEqual(discord.interactionEdits.get(click.token), [{ content: "Answered" }]);

    // A click deferred with 5: @original is the new response, the message is left alone.
    const other = discord.clickButton(USER, message, "ia:1:form");
    await rest(discord, "POST", `/interactions/${other.id}/${other.token}/callback`, {
      type: 5,
      data: { flags: 64 },
    });
    await rest(
      discord,
      "PATCH",
      `/webhooks/${discord.applicationId}/${other.token}/messages/@original`,
      { content: "Thanks" },
    );
    assert.equal(message.content, "Answered");
    assert.deepEqual(discord.interactionEdits.get(other.token), [{ content: "Thanks" }]);
    assert.equal(discord.messageById(message.id)?.content, "Answered");

    // Follow-ups: only once the interaction has its first response; ephemeral ones stay out of the DM.
    const late = discord.clickButton(USER, message, "ia:1:form");
    const early = await rest(discord, "POST", `/webhooks/${discord.applicationId}/${late.token}`, {
      content: "too early",
    });
    assert.equal(early.body.code, 10015);
    const note = { content: "Already answered", flags: 64 };
    const follow = await rest(
      discord,
      "POST",
      `/webhooks/${discord.applicationId}/${other.token}`,
      note,
    );
    assert.equal(follow.status, 200);
    assert.deepEqual(discord.followUpsOf(other), [note]);
    assert.equal(discord.sentTo(USER).length, 1, "an ephemeral follow-up is not a DM message");
    await rest(discord, "POST", `/interactions/${late.id}/${late.token}/callback`, { type: 6 });

    // A modal in the Label layout; the submission mirrors it and carries the message.
    const open = discord.clickButton(USER, message, "ia:1:form");
    const modal = {
      custom_id: "ia:1:modal",
      title: "Fill in",
      components: [{
        type: 18,
        label: "Email",
        component: { type: 4, custom_id: "email", style: 1 },
      }],
    };
    const tooLong = await rest(discord, "POST", `/interactions/${open.id}/${open.token}/callback`, {
      type: 9,
      data: { ...modal, title: "t".repeat(46) },
    });
    assert.equal(tooLong.status, 400);
    assert.equal(
      discord.interactionResponses.has(open.id),
      false,
      "a refused callback acks nothing",
    );
    await rest(discord, "POST", `/interactions/${open.id}/${open.token}/callback`, {
      type: 9,
      data: modal,
    });
    discord.submitModal(USER, "ia:1:modal", { email: "a@b.c" }, message);
    const submitted = await gw.next(6);
    assert.equal(submitted.type, 5);
    assert.deepEqual((submitted.data as Record<string, unknown>).components, [
      { type: 18, component: { type: 4, custom_id: "email", value: "a@b.c" } },
    ]);
    assert.equal((submitted.message as FakeMessage).id, message.id);

    // Types 6/7 need a message: a slash command cannot be answered with them.
    const command = discord.useCommand(USER, "help");
    const wrong = await rest(
      discord,
      "POST",
      `/interactions/${command.id}/${command.token}/callback`,
      {
        type: 6,
      },
    );
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.code, 50035);
  } finally {
    await gw.close();
    await discord.close();
  }
});
