/**
 * Review of issue 14 (outside reviewer): legal-but-large Chatwoot
 * `content_attributes` against Discord's limits and Deno KV's 64 KiB value
 * limit. These tests describe what should happen; they may fail on the code
 * under review (that is the finding).
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

Deno.test("review14: articles whose descriptions add up past 6000 characters are not refused by Discord", async () => {
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

Deno.test("review14: five cards with long descriptions are not refused by Discord", async () => {
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

Deno.test("review14: a large form (over Deno KV's 64 KiB per value) neither blocks the user's later replies nor vanishes", async () => {
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

Deno.test("review14: a form select with more than 25 options (a country list) can still be submitted", async () => {
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

Deno.test("review14: a ten-field form answered at length (Cyrillic, within Discord's 4000 per field) reaches Chatwoot", async () => {
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
  const long = "ж".repeat(4000); // two bytes a character in Deno KV
  for (const part of parts) {
    await h.discord.responseTo(h.discord.clickButton(userId, message, part));
    await h.discord.responseTo(
      h.discord.submitModal(
        userId,
        part,
        { f0: long, f1: long, f2: long, f3: long, f4: long },
        message,
      ),
    );
    await settle(h, 100);
  }
  const stored = () =>
    (h.chatwoot.messages.find((m) => m.id === id)?.content_attributes as Record<string, unknown>)
      ?.submitted_values;
  const arrived = await h.chatwoot.waitFor(stored, "the answers", 3_000).catch(() => undefined);
  const errors = h.logs.filter((l) => /too large/i.test(l)).map((l) => l.slice(0, 200));
  assert.ok(arrived, `the answers never reached Chatwoot; ${errors.join("\n")}`);
});
