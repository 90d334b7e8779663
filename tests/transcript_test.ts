/** TRANSCRIPT_ON_RESOLVE, end to end through the fakes. */
import assert from "node:assert/strict";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { startHarness } from "./helpers/harness.ts";
import { deliverAll, openTicket, settle } from "./helpers/tickets.ts";

function transcriptOf(m: FakeMessage): { name: string; text: string } | undefined {
  const file = ((m.files ?? []) as { name: string; bytes: Uint8Array }[])
    .find((f) => f.name.endsWith("-transcript.txt"));
  return file && { name: file.name, text: new TextDecoder().decode(file.bytes) };
}

Deno.test("transcript on resolve: the resolved notice carries exactly the public messages, with times and display names, no notes or emails", async () => {
  await using h = await startHarness({
    env: { TRANSCRIPT_ON_RESOLVE: "true", GREETING_ENABLED: "false", BRAND_NAME: "Acme Help" },
  });
  const userId = "660000000000000001";
  const { conversationId } = await openTicket(h, userId, "my parcel is late");
  await deliverAll(h, [
    h.chatwoot.agentReply(conversationId, "Sorry! Checking now.", {
      files: [{ name: "tracking.pdf", contentType: "application/pdf", bytes: new Uint8Array(8) }],
    }),
    h.chatwoot.agentReply(conversationId, "internal: VIP customer", { private: true }),
  ]);
  await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => m.content.startsWith("Sorry!")),
    "the reply",
  );
  h.discord.sendDm({ userId, content: "thanks!\nsecond line" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.content === "thanks!\nsecond line"),
    "the second DM",
  );
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) {
    await deliverAll(h, [p]);
  }
  const notice = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => transcriptOf(m)),
    "the resolved notice with its transcript",
  );
  assert.match(JSON.stringify(notice.embeds), /Ticket resolved/);
  const { name, text } = transcriptOf(notice)!;
  assert.equal(name, `ticket-${conversationId}-transcript.txt`);
  const lines = text.trim().split("\n");
  assert.equal(lines[0], `Ticket #${conversationId} — Acme Help`);
  const entries = lines.filter((l) => l.startsWith("["));
  assert.equal(entries.length, 3, text);
  assert.match(entries[0], /^\[\d{4}-\d\d-\d\d \d\d:\d\d\] user0001: my parcel is late$/);
  assert.match(entries[1], /\] Bob: Sorry! Checking now\.$/);
  assert.ok(text.includes("\n    [file: tracking.pdf]"));
  assert.match(entries[2], /\] user0001: thanks!$/);
  assert.ok(text.includes("\n    second line\n"));
  assert.doesNotMatch(text, /VIP|bob@acme\.test|Bob Agent/);
});

Deno.test("transcript on resolve: a long conversation is read in pages of 100 (bounded), every message once", async () => {
  await using h = await startHarness({
    env: { TRANSCRIPT_ON_RESOLVE: "true", GREETING_ENABLED: "false" },
  });
  const userId = "660000000000000002";
  const { conversationId } = await openTicket(h, userId, "message 0");
  for (let i = 1; i < 250; i++) h.chatwoot.agentReply(conversationId, `message ${i}`);
  await settle(h);
  const before = h.chatwoot.messagePages;
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) await deliverAll(h, [p]);
  const notice = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => transcriptOf(m)),
    "the transcript",
  );
  const entries = transcriptOf(notice)!.text.split("\n").filter((l) => l.startsWith("["));
  assert.equal(entries.length, 250);
  assert.deepEqual(
    entries.map((l) => l.replace(/^.*: /, "")),
    Array.from({ length: 250 }, (_, i) => `message ${i}`),
  );
  assert.equal(h.chatwoot.messagePages - before, 3, "three reads of at most 100 messages");
});

Deno.test("transcript on resolve is off by default", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "660000000000000003";
  const { conversationId } = await openTicket(h, userId);
  for (const p of h.chatwoot.setStatus(conversationId, "resolved")) await deliverAll(h, [p]);
  const notice = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => /Ticket resolved/.test(JSON.stringify(m.embeds))),
    "the resolved notice",
  );
  assert.equal(transcriptOf(notice), undefined);
});

Deno.test("transcript on resolve: a user who closes the ticket themselves (/close) gets it too", async () => {
  await using h = await startHarness({
    env: { TRANSCRIPT_ON_RESOLVE: "true", GREETING_ENABLED: "false" },
  });
  const userId = "660000000000000004";
  const { conversationId } = await openTicket(h, userId, "never mind, found it");
  const close = h.discord.useCommand(userId, "close");
  assert.match(JSON.stringify(await h.discord.editOf(close)), /closed/);
  const notice = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => transcriptOf(m)),
    "the transcript after /close",
  );
  assert.match(JSON.stringify(notice.embeds), new RegExp(`Ticket #${conversationId} closed`));
  assert.match(transcriptOf(notice)!.text, /never mind, found it/);
});
