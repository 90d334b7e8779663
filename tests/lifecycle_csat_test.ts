import assert from "node:assert/strict";
import type { Harness } from "./helpers/harness.ts";
import { startHarness } from "./helpers/harness.ts";
import { openTicket, settle } from "./helpers/tickets.ts";

/** Resolves the user's ticket as an agent; returns the CSAT prompt message the user got. */
async function resolveAndGetPrompt(h: Harness, userId: string) {
  const { conversationId } = await openTicket(h, userId);
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) {
    assert.equal((await h.chatwoot.deliver(p)).status, 200);
  }
  const prompt = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => (m.components as unknown[]).length > 0),
    "the CSAT prompt",
  );
  const button = (prompt.components as {
    components: { custom_id: string; label: string; disabled?: boolean }[];
  }[])[0]
    .components[0];
  return { conversationId, prompt, button };
}

function csatEnabled(h: Harness) {
  h.chatwoot.inbox.csat_survey_enabled = true;
  return h.bridge.checkChatwoot();
}

Deno.test("CSAT: button → form → rating in Chatwoot, thanks, button disabled, second try answered politely", async () => {
  await using h = await startHarness({
    env: { CSAT_BUTTON_LABEL: "Rate us!", GREETING_ENABLED: "false" },
  });
  await csatEnabled(h);
  const userId = "620000000000000001";
  const { conversationId, prompt, button } = await resolveAndGetPrompt(h, userId);
  assert.equal(button.label, "Rate us!");
  const embed = (prompt.embeds as { description: string }[])[0];
  assert.equal(embed.description, "How would you rate your support experience?");
  const conversation = h.chatwoot.conversations.find((c) => c.id === conversationId)!;
  assert.equal(button.custom_id, `csat:${conversation.uuid}`);
  // The survey link itself is not relayed as text.
  assert.ok(!h.discord.sentTo(userId).some((m) => m.content.includes("/survey/responses/")));

  const click = h.discord.clickButton(userId, prompt, button.custom_id);
  const modal = await h.discord.responseTo(click);
  assert.equal(modal.type, 9);
  const fields = JSON.stringify(modal.data);
  assert.match(fields, /"custom_id":"rating"/);
  assert.match(fields, /"custom_id":"comment"/);
  assert.match(fields, /Any additional feedback\? \(optional\)/);

  const submit = h.discord.submitModal(userId, button.custom_id, {
    rating: "4",
    comment: "Quick and kind",
  });
  const ack = await h.discord.responseTo(submit);
  assert.equal(ack.type, 5, "deferred within Discord's 3 seconds");
  assert.equal((ack.data as { flags: number }).flags, 64, "ephemeral");
  await h.chatwoot.waitFor(() => h.chatwoot.csatResponses.length === 1, "the rating in Chatwoot");
  assert.deepEqual(h.chatwoot.csatResponses[0], {
    uuid: conversation.uuid,
    rating: 4,
    feedback: "Quick and kind",
  });
  const thanks = await h.discord.editOf(submit);
  assert.match(JSON.stringify(thanks), /Thank you!/);
  const edit = await h.discord.waitFor(() => h.discord.messageEdits.at(-1), "the prompt edit");
  assert.equal(edit.messageId, prompt.id);
  assert.match(JSON.stringify(edit.body), /"disabled":true/);

  const again = h.discord.clickButton(userId, prompt, button.custom_id);
  const polite = await h.discord.responseTo(again);
  assert.equal(polite.type, 4);
  assert.match(JSON.stringify(polite.data), /already rated this conversation 4\/5/);
  assert.equal(h.chatwoot.csatResponses.length, 1);
});

Deno.test("CSAT: an invalid rating is refused with the reason and nothing is sent", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false", CSAT_COMMENT_ENABLED: "false" },
  });
  await csatEnabled(h);
  const userId = "620000000000000002";
  const { prompt, button } = await resolveAndGetPrompt(h, userId);
  const modal = await h.discord.responseTo(h.discord.clickButton(userId, prompt, button.custom_id));
  assert.doesNotMatch(JSON.stringify(modal.data), /"custom_id":"comment"/, "no comment field");
  const bad = await h.discord.responseTo(
    h.discord.submitModal(userId, button.custom_id, { rating: "9" }),
  );
  assert.equal(bad.type, 4);
  assert.match(JSON.stringify(bad.data), /whole number from 1 \(poor\) to 5 \(great\)/);
  await settle(h);
  assert.equal(h.chatwoot.csatResponses.length, 0);
});

Deno.test("CSAT: a survey older than 14 days (422) is explained; a failing Chatwoot is retried", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  await csatEnabled(h);
  const userId = "620000000000000003";
  const first = await resolveAndGetPrompt(h, userId);
  h.chatwoot.csatClosed = true;
  const late = h.discord.submitModal(userId, first.button.custom_id, { rating: "5" });
  const explained = await h.discord.editOf(late);
  assert.match(JSON.stringify(explained), /14 days/);

  // A second user's rating meets a Chatwoot outage: kept, retried, delivered.
  h.chatwoot.csatClosed = false;
  const other = "620000000000000004";
  const second = await resolveAndGetPrompt(h, other);
  let failures = 0;
  h.chatwoot.intercept = (call) =>
    call.route.startsWith("/public/") && failures++ < 1
      ? Response.json({ status: 500, error: "Internal Server Error" }, { status: 500 })
      : undefined;
  const submit = h.discord.submitModal(other, second.button.custom_id, { rating: "3" });
  try {
    await h.chatwoot.waitFor(
      () => h.chatwoot.csatResponses.some((r) => r.rating === 3),
      "the retried rating",
      20_000,
    );
  } catch (error) {
    throw new Error(`${error}\nbridge log:\n${h.logs.slice(-30).join("\n")}`);
  }
  assert.equal(failures, 2, "one failure, then the retry");
  assert.match(JSON.stringify(await h.discord.editOf(submit)), /Thank you!/);
});

Deno.test("CSAT_ENABLED=false: Chatwoot's survey is neither relayed nor turned into a button", async () => {
  await using h = await startHarness({ env: { CSAT_ENABLED: "false", GREETING_ENABLED: "false" } });
  await csatEnabled(h);
  const userId = "620000000000000005";
  const { conversationId } = await openTicket(h, userId);
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) await h.chatwoot.deliver(p);
  await settle(h);
  const sent = h.discord.sentTo(userId);
  assert.equal(sent.length, 1, "only the resolved notice");
  assert.equal((sent[0].components as unknown[]).length, 0);
});
