/**
 * Chatwoot's interactive messages on Discord, end to end through the fakes:
 * the agent (or a bot) sends one, the user clicks or fills in, and Chatwoot
 * records the answer exactly once, the way its web widget does.
 */
import assert from "node:assert/strict";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { type Harness, startHarness } from "./helpers/harness.ts";
import { deliverAll, openTicket, settle } from "./helpers/tickets.ts";

type Row = {
  type: number;
  components: {
    type: number;
    custom_id?: string;
    label?: string;
    url?: string;
    style?: number;
    disabled?: boolean;
    placeholder?: string;
    options?: { label: string; value: string }[];
  }[];
};

const rowsOf = (m: FakeMessage) => (m.components ?? []) as Row[];

/** The agent sends an interactive message; returns the Discord message carrying its components. */
async function sendInteractive(
  h: Harness,
  userId: string,
  contentType: string,
  contentAttributes: Record<string, unknown>,
  content = "Please choose",
) {
  const { conversationId } = await openTicket(h, userId);
  const payload = h.chatwoot.agentReply(conversationId, content, {
    contentType,
    contentAttributes,
  });
  await deliverAll(h, [payload]);
  const chatwootMessageId = payload.id as number;
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => rowsOf(m).length > 0),
    "the interactive message on Discord",
  );
  return { conversationId, chatwootMessageId, message };
}

function submittedValues(h: Harness, chatwootMessageId: number) {
  const stored = h.chatwoot.messages.find((m) => m.id === chatwootMessageId)!;
  return (stored.content_attributes as { submitted_values?: unknown }).submitted_values;
}

function answerPatches(h: Harness, chatwootMessageId: number) {
  return h.chatwoot.calls.filter((c) =>
    c.method === "PATCH" && c.path.endsWith(`/messages/${chatwootMessageId}`) &&
    c.path.startsWith("/public/")
  );
}

Deno.test("input_select with few options: buttons; a click answers once (submitted_values + the contact's reply), a double click adds nothing", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "640000000000000001";
  const options = [{ title: "Billing", value: "billing" }, { title: "Bug", value: "bug" }];
  const { conversationId, chatwootMessageId, message } = await sendInteractive(
    h,
    userId,
    "input_select",
    { items: options },
  );
  assert.equal(message.content, "Please choose");
  const buttons = rowsOf(message)[0].components;
  assert.deepEqual(buttons.map((b) => b.label), ["Billing", "Bug"]);

  const click = h.discord.clickButton(userId, message, buttons[1].custom_id!);
  const ack = await h.discord.responseTo(click);
  assert.equal(ack.type, 6, "deferred update within Discord's 3 seconds");
  const again = h.discord.clickButton(userId, message, buttons[0].custom_id!);
  await h.discord.responseTo(again);

  await h.chatwoot.waitFor(() => submittedValues(h, chatwootMessageId), "the answer in Chatwoot");
  await settle(h);
  assert.deepEqual(submittedValues(h, chatwootMessageId), [{ title: "Bug", value: "bug" }]);
  assert.equal(answerPatches(h, chatwootMessageId).length, 1);
  const replies = h.chatwoot.messages.filter((m) =>
    m.conversation_id === conversationId && m.source_id === `answer:${chatwootMessageId}`
  );
  assert.equal(replies.length, 1, "one contact message carries the choice");
  assert.equal(replies[0].content, "Bug");

  // The message shows the answer; the buttons are disabled.
  const shown = rowsOf(h.discord.messageById(message.id)!)[0].components;
  assert.ok(shown.every((b) => b.disabled === true));
  assert.equal(shown[1].style, 3, "the answer in green");
  // Told privately: at once, or after the acknowledgement when both clicks raced.
  const first = await h.discord.responseTo(again);
  const polite = first.type === 4
    ? first
    : await h.discord.waitFor(() => h.discord.followUpsOf(again)[0], "the note on the 2nd click");
  assert.match(JSON.stringify(polite), /already answered/);
});

Deno.test("input_select with many options: a select menu; the choice is the option itself", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "640000000000000002";
  const items = Array.from({ length: 8 }, (_, i) => ({ title: `Plan ${i}`, value: `plan-${i}` }));
  const { chatwootMessageId, message } = await sendInteractive(h, userId, "input_select", {
    items,
  });
  const menu = rowsOf(message)[0].components[0];
  assert.equal(menu.type, 3);
  assert.equal(menu.options!.length, 8);
  const choose = h.discord.chooseOption(userId, message, menu.custom_id!, [menu.options![5].value]);
  assert.equal((await h.discord.responseTo(choose)).type, 6);
  await h.chatwoot.waitFor(() => submittedValues(h, chatwootMessageId), "the answer");
  assert.deepEqual(submittedValues(h, chatwootMessageId), [{ title: "Plan 5", value: "plan-5" }]);
});

Deno.test("cards: embeds with image, link buttons and postback buttons; a postback answers like an option", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "640000000000000003";
  const { chatwootMessageId, message } = await sendInteractive(h, userId, "cards", {
    items: [{
      media_url: "https://example.com/p.png",
      title: "Pro plan",
      description: "Everything, twice",
      actions: [
        { type: "link", text: "Details", uri: "https://example.com/pro" },
        { type: "postback", text: "Buy", payload: "BUY_PRO" },
        { type: "link", text: "Bad", uri: "javascript:alert(1)" },
      ],
    }],
  }, "");
  const embed = (message.embeds as { title: string; image?: { url: string } }[])
    .find((e) => e.title === "Pro plan")!;
  assert.equal(embed.image?.url, "https://example.com/p.png");
  const buttons = rowsOf(message)[0].components;
  assert.deepEqual(buttons.map((b) => b.label), ["Details", "Buy"], "non-web links are left out");
  assert.equal(buttons[0].url, "https://example.com/pro");
  await h.discord.responseTo(h.discord.clickButton(userId, message, buttons[1].custom_id!));
  await h.chatwoot.waitFor(() => submittedValues(h, chatwootMessageId), "the postback answer");
  assert.deepEqual(submittedValues(h, chatwootMessageId), [{ title: "Buy", value: "BUY_PRO" }]);
});

Deno.test("form: a Fill in button opens a modal per five fields; checked like Chatwoot's widget; submitted once as [{name, value}]", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "640000000000000004";
  const fields = [
    { name: "email", type: "email", label: "Email", placeholder: "you@x.y" },
    {
      name: "order",
      type: "text",
      label: "Order",
      pattern: "^[0-9]+$",
      pattern_error: "Digits only",
    },
    {
      name: "size",
      type: "select",
      label: "Size",
      options: [{ label: "Small", value: "s" }, { label: "Large", value: "l" }],
    },
    { name: "a", type: "text", label: "A" },
    { name: "b", type: "text", label: "B" },
    { name: "notes", type: "text_area", label: "Notes" },
  ];
  const { chatwootMessageId, message } = await sendInteractive(h, userId, "form", {
    items: fields,
  });
  const buttons = rowsOf(message)[0].components;
  assert.deepEqual(buttons.map((b) => b.label), ["Fill in (1/2)", "Fill in (2/2)"]);

  const modal = await h.discord.responseTo(
    h.discord.clickButton(userId, message, buttons[0].custom_id!),
  );
  assert.equal(modal.type, 9);
  const inputs = (modal.data as { components: Row[] }).components;
  assert.equal(inputs.length, 5);

  // Invalid: the pattern's own error message, nothing stored.
  const bad = await h.discord.responseTo(h.discord.submitModal(userId, buttons[0].custom_id!, {
    f0: "me@example.com",
    f1: "12a",
    f2: "Large",
    f3: "x",
    f4: "y",
  }, message));
  assert.equal(bad.type, 4);
  assert.match(JSON.stringify(bad.data), /Digits only/);

  await h.discord.responseTo(h.discord.submitModal(userId, buttons[0].custom_id!, {
    f0: "me@example.com",
    f1: "1234",
    f2: "Large",
    f3: "x",
    f4: "y",
  }, message));
  await settle(h);
  assert.equal(answerPatches(h, chatwootMessageId).length, 0, "not sent before every part");

  const part2 = h.discord.submitModal(userId, buttons[1].custom_id!, { f0: "Thanks" }, message);
  await h.discord.responseTo(part2);
  await h.chatwoot.waitFor(() => submittedValues(h, chatwootMessageId), "the form in Chatwoot");
  assert.deepEqual(submittedValues(h, chatwootMessageId), [
    { name: "email", value: "me@example.com" },
    { name: "order", value: "1234" },
    { name: "size", value: "l" },
    { name: "a", value: "x" },
    { name: "b", value: "y" },
    { name: "notes", value: "Thanks" },
  ]);
  // A replayed submission answers nothing more.
  await h.discord.responseTo(
    h.discord.submitModal(userId, buttons[1].custom_id!, { f0: "Again" }, message),
  );
  await settle(h);
  assert.equal(answerPatches(h, chatwootMessageId).length, 1);
});

Deno.test("article: embeds with link buttons; input_email: a modal, the address on the contact and in the conversation", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "640000000000000005";
  const { message } = await sendInteractive(h, userId, "article", {
    items: [
      {
        title: "Reset your password",
        description: "Step by step",
        link: "https://help.example.com/reset",
      },
    ],
  }, "These may help");
  assert.equal(rowsOf(message)[0].components[0].url, "https://help.example.com/reset");

  const { conversationId } = await openTicket(h, userId, "still stuck");
  const payload = h.chatwoot.agentReply(conversationId, "What is your email?", {
    contentType: "input_email",
  });
  await deliverAll(h, [payload]);
  const ask = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "What is your email?"),
    "the email request",
  );
  const button = rowsOf(ask)[0].components[0];
  const modal = await h.discord.responseTo(h.discord.clickButton(userId, ask, button.custom_id!));
  assert.equal(modal.type, 9);
  const wrong = await h.discord.responseTo(
    h.discord.submitModal(userId, button.custom_id!, { email: "not-an-email" }, ask),
  );
  assert.equal(wrong.type, 4);
  await h.discord.responseTo(
    h.discord.submitModal(userId, button.custom_id!, { email: "Ada@Example.com" }, ask),
  );
  const contact = () => h.chatwoot.contacts.find((c) => c.identifier === `discord:${userId}`);
  await h.chatwoot.waitFor(
    () => contact()?.email === "ada@example.com",
    "the email on the contact",
  );
  await h.chatwoot.waitFor(
    () =>
      h.chatwoot.messages.some((m) =>
        m.source_id === `answer:${payload.id}` && m.content === "ada@example.com"
      ),
    "the address in the conversation",
  );
});

Deno.test("an answer during a Chatwoot outage is kept and delivered once it is back; someone else's click answers nothing", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    timings: { retryDelayMs: () => 50, probeMs: 50 },
  });
  const userId = "640000000000000006";
  const { chatwootMessageId, message } = await sendInteractive(h, userId, "input_select", {
    items: [{ title: "Yes", value: "yes" }],
  });
  const button = rowsOf(message)[0].components[0];
  const stranger = h.discord.clickButton("640000000000000099", message, button.custom_id!);
  await h.discord.responseTo(stranger);
  let failures = 0;
  h.chatwoot.intercept = (call) =>
    call.path.startsWith("/public/") && failures++ < 3
      ? Response.json({ error: "down" }, { status: 503 })
      : undefined;
  await h.discord.responseTo(h.discord.clickButton(userId, message, button.custom_id!));
  await h.chatwoot.waitFor(
    () => submittedValues(h, chatwootMessageId),
    "the answer after the outage",
    10_000,
  );
  h.chatwoot.intercept = undefined;
  await settle(h);
  assert.ok(failures >= 3);
  assert.deepEqual(submittedValues(h, chatwootMessageId), [{ title: "Yes", value: "yes" }]);
  assert.equal(
    h.chatwoot.messages.filter((m) => m.source_id === `answer:${chatwootMessageId}`).length,
    1,
  );
});
