/**
 * Interactive messages at the edges: legal-but-large Chatwoot
 * `content_attributes` against Discord's limits and Deno KV's 64 KiB per
 * value, a message recovered by the reconciliation, an answer to a resolved
 * conversation.
 */
import assert from "node:assert/strict";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { type Harness, startHarness } from "./helpers/harness.ts";
import { deliverAll, openTicket, settle } from "./helpers/tickets.ts";

const rowsOf = (m: FakeMessage) =>
  (m.components ?? []) as { components: { custom_id?: string; label?: string }[] }[];

async function agentSends(
  h: Harness,
  conversationId: number,
  contentType: string,
  contentAttributes: Record<string, unknown>,
  content: string,
) {
  const payload = h.chatwoot.agentReply(conversationId, content, {
    contentType,
    contentAttributes,
  });
  await deliverAll(h, [payload]);
  return payload.id as number;
}

Deno.test("articles whose descriptions add up past 6000 characters are not refused by Discord", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "660000000000000001";
  const { conversationId } = await openTicket(h, userId);
  // Four help-centre articles with 1800-character summaries: each within Chatwoot's and
  // the adapter's bounds (2000), together 7200 characters of embed text.
  await agentSends(h, conversationId, "article", {
    items: Array.from({ length: 4 }, (_, i) => ({
      title: `Article ${i}`,
      description: "d".repeat(1800),
      link: `https://help.example.com/${i}`,
    })),
  }, "These may help");
  await settle(h, 500);
  assert.deepEqual(h.discord.invalidBodies, [], "Discord refused a body");
  const withLinks = h.discord.sentTo(userId).filter((m) => rowsOf(m).length > 0);
  assert.equal(withLinks.length, 1, "the articles reached the user");
});

Deno.test("five cards with long descriptions are not refused by Discord", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "660000000000000002";
  const { conversationId } = await openTicket(h, userId);
  await agentSends(h, conversationId, "cards", {
    items: Array.from({ length: 5 }, (_, i) => ({
      title: `Plan ${i}`,
      description: "p".repeat(1500),
      actions: [{ type: "postback", text: "Pick", payload: `P${i}` }],
    })),
  }, "Our plans");
  await settle(h, 500);
  assert.deepEqual(h.discord.invalidBodies, [], "Discord refused a body");
  assert.ok(
    h.discord.sentTo(userId).some((m) => rowsOf(m).length > 0),
    "the cards reached the user",
  );
});

Deno.test("a large form (over Deno KV's 64 KiB per value) neither blocks the user's later replies nor vanishes", async () => {
  await using h = await startHarness({
    env: { GREETING_ENABLED: "false" },
    timings: { retryDelayMs: () => 50, probeMs: 50 },
  });
  const userId = "660000000000000003";
  const { conversationId } = await openTicket(h, userId);
  // 20 text fields with a 3900-character default each: every value within the adapter's
  // bounds (4000), ~78 KB in all.
  const payload = h.chatwoot.agentReply(conversationId, "Please fill in", {
    contentType: "form",
    contentAttributes: {
      items: Array.from({ length: 20 }, (_, i) => ({
        name: `f${i}`,
        type: "text",
        label: `Field ${i}`,
        default: "x".repeat(3900),
      })),
    },
  });
  const res = await h.chatwoot.deliver(payload);
  const formId = payload.id as number;
  await agentSends(h, conversationId, "text", {}, "and a plain reply after it");
  const plain = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "and a plain reply after it"),
    "the plain reply after the large form",
    3_000,
  ).catch(() => undefined);
  const logs = h.logs.filter((l) => /too large|dead|failed/i.test(l)).map((l) => l.slice(0, 300));
  assert.equal(res.status, 200, `the webhook was refused; logs: ${logs.join("\n")}`);
  assert.ok(plain, `the plain reply was held behind the form; logs: ${logs.join("\n")}`);
  assert.ok(
    h.discord.sentTo(userId).some((m) => m.content === "Please fill in"),
    `the form's text never reached the user (message ${formId}); logs: ${logs.join("\n")}`,
  );
});

Deno.test("a form select with more than 25 options (a country list) can still be submitted", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "660000000000000004";
  const { conversationId } = await openTicket(h, userId);
  const countries = Array.from(
    { length: 30 },
    (_, i) => ({ label: `Country ${i}`, value: `c${i}` }),
  );
  const id = await agentSends(h, conversationId, "form", {
    items: [{ name: "country", type: "select", label: "Country", options: countries }],
  }, "Where are you?");
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => rowsOf(m).length > 0),
    "the form",
  );
  const button = rowsOf(message)[0].components[0].custom_id!;
  await h.discord.responseTo(h.discord.clickButton(userId, message, button));
  const answer = await h.discord.responseTo(
    h.discord.submitModal(userId, button, { f0: "Country 3" }, message),
  );
  assert.notEqual(answer.type, 4, `refused: ${JSON.stringify(answer.data)}`);
  await h.chatwoot.waitFor(
    () =>
      (h.chatwoot.messages.find((m) => m.id === id)?.content_attributes as Record<string, unknown>)
        ?.submitted_values,
    "the answer",
    3_000,
  );
});

Deno.test("a ten-field form: each answer is bounded so the whole form fits (Cyrillic at the bound reaches Chatwoot; longer is refused with the reason)", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "660000000000000005";
  const { conversationId } = await openTicket(h, userId);
  const id = await agentSends(h, conversationId, "form", {
    items: Array.from(
      { length: 10 },
      (_, i) => ({ name: `q${i}`, type: "text_area", label: `Q${i}` }),
    ),
  }, "Tell us everything");
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => rowsOf(m).length > 0),
    "the form",
  );
  const parts = rowsOf(message)[0].components.map((b) => b.custom_id!);
  const modal = await h.discord.responseTo(h.discord.clickButton(userId, message, parts[0]));
  const limit = (modal.data as { components: { components: { max_length: number }[] }[] })
    .components[0].components[0].max_length;
  assert.equal(limit, 400, "16,000 bytes for the form, four bytes a character at worst");
  const tooLong = await h.discord.responseTo(
    h.discord.submitModal(userId, parts[0], {
      f0: "ж".repeat(401),
      f1: "a",
      f2: "a",
      f3: "a",
      f4: "a",
    }, message),
  );
  assert.equal(tooLong.type, 4);
  assert.match(JSON.stringify(tooLong.data), /at most 400 characters/);
  const long = "ж".repeat(400);
  for (const part of parts) {
    await h.discord.responseTo(
      h.discord.submitModal(
        userId,
        part,
        { f0: long, f1: long, f2: long, f3: long, f4: long },
        message,
      ),
    );
    await settle(h, 50);
  }
  const stored = () =>
    (h.chatwoot.messages.find((m) => m.id === id)?.content_attributes as Record<string, unknown>)
      ?.submitted_values as { value: string }[] | undefined;
  const arrived = await h.chatwoot.waitFor(stored, "the answers", 3_000);
  assert.equal(arrived.length, 10);
  assert.ok(arrived.every((v) => v.value === long));
});

Deno.test("an options message recovered by reconciliation still has its buttons", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "680000000000000001";
  const { conversationId } = await openTicket(h, userId);
  // A bot's options message whose webhook never arrived.
  h.chatwoot.agentReply(conversationId, "Which plan?", {
    contentType: "input_select",
    contentAttributes: {
      items: [{ title: "Pro", value: "pro" }, { title: "Free", value: "free" }],
    },
  });
  const result = await h.bridge.reconcile();
  assert.equal(result.queued, 1);
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "Which plan?"),
    "the recovered message",
  );
  await settle(h);
  assert.ok(
    ((message.components ?? []) as unknown[]).length > 0,
    "recovered as plain text: nothing to click",
  );
});

Deno.test("clicking an option of a resolved conversation does not reopen it behind REOPEN_WINDOW_HOURS=0", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false", CSAT_ENABLED: "false" } });
  const userId = "690000000000000001";
  const { conversationId } = await openTicket(h, userId);
  await deliverAll(h, [h.chatwoot.agentReply(conversationId, "Did that help?", {
    contentType: "input_select",
    contentAttributes: { items: [{ title: "Yes", value: "yes" }, { title: "No", value: "no" }] },
  })]);
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content === "Did that help?"),
    "the options",
  );
  await deliverAll(h, h.chatwoot.setStatus(conversationId, "resolved"));
  await settle(h);
  const rows = (message.components ?? []) as { components: { custom_id: string }[] }[];
  await h.discord.responseTo(
    h.discord.clickButton(userId, message as FakeMessage, rows[0].components[0].custom_id),
  );
  await settle(h, 500);
  const conversation = h.chatwoot.conversations.find((c) => c.id === conversationId)!;
  assert.equal(
    conversation.status,
    "resolved",
    "a click on an old message reopened the resolved ticket (REOPEN_WINDOW_HOURS=0: a DM would open a new one)",
  );
});
