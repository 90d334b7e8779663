import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { openTicket } from "./helpers/tickets.ts";

const quiet = { GREETING_ENABLED: "false" };
const bytes = (n: number, seed = 1) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

Deno.test("files a user sends arrive in Chatwoot on the same message, byte for byte", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "691000000000000001";
  const png = { name: "label.png", contentType: "image/png", bytes: bytes(5000, 7) };
  const txt = {
    name: "notes.txt",
    contentType: "text/plain",
    bytes: new TextEncoder().encode("order 4411"),
  };
  const dm = h.discord.sendDm({ userId, content: "here are the photos", files: [png, txt] });
  const m = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === dm.messageId),
    "the DM",
  );
  assert.equal(m.content, "here are the photos");
  assert.deepEqual(m.attachments?.map((a) => a.name), ["label.png", "notes.txt"]);
  assert.deepEqual(m.attachments![0].bytes, png.bytes);
  assert.equal(m.attachments![0].contentType, "image/png");
  assert.equal(new TextDecoder().decode(m.attachments![1].bytes), "order 4411");
});

Deno.test("beyond Chatwoot's limits a file becomes a link with the reason", async () => {
  await using h = await startHarness({ env: { ...quiet, CHATWOOT_MAX_UPLOAD_MB: "0.01" } }); // ~10 KiB
  const userId = "691000000000000002";
  await openTicket(h, userId);
  const files = [
    { name: "video.mp4", contentType: "video/mp4", bytes: bytes(20_000) },
    ...Array.from({ length: 16 }, (_, i) => ({
      name: `f${i}.bin`,
      contentType: "application/octet-stream",
      bytes: bytes(100, i),
    })),
  ];
  const dm = h.discord.sendDm({ userId, content: "", files });
  const m = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === dm.messageId),
    "the DM",
  );
  assert.equal(m.attachments?.length, 15, "15 files per message");
  assert.match(
    m.content,
    /📎 f15\.bin \(100 B\) not attached \(Chatwoot takes 15 files per message\): http/,
  );
  assert.match(
    m.content,
    /📎 video\.mp4 \(19\.5 KiB\) not attached \(over the 10\.2 KiB upload limit\): http/,
  );
});

Deno.test("an expired CDN link is renewed by reading the message again", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "691000000000000003";
  await openTicket(h, userId);
  // Hold Chatwoot back so that the link can expire between arrival and delivery.
  let hold = true;
  const postsBefore = h.chatwoot.calls.filter((c) => c.method === "POST").length;
  h.chatwoot.intercept = (call) =>
    hold && call.method === "POST" ? new Response("Retry later\n", { status: 429 }) : undefined;
  const file = { name: "receipt.pdf", contentType: "application/pdf", bytes: bytes(3000, 3) };
  const dm = h.discord.sendDm({ userId, content: "receipt", files: [file] });
  await h.chatwoot.waitFor(
    () => h.chatwoot.calls.filter((c) => c.method === "POST").length > postsBefore,
    "a held attempt",
  );
  const sent = h.discord.userMessages.find((x) => x.id === dm.messageId)!;
  h.discord.expireCdnLink((sent.attachments as { url: string }[])[0].url);
  hold = false;
  const m = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === dm.messageId),
    "the DM after the retry",
    10_000,
  );
  assert.deepEqual(m.attachments?.[0].bytes, file.bytes);
  assert.equal(h.discord.requestsTo("GET", new RegExp(`/messages/${dm.messageId}$`)).length, 1);
});

Deno.test("a sticker arrives as its name and image", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "691000000000000004";
  const dm = h.discord.sendDm({
    userId,
    content: "",
    stickers: [{ id: "749054660769218631", name: "Wave", formatType: 1 }],
  });
  const m = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === dm.messageId),
    "the DM",
  );
  assert.equal(m.content, "[Sticker: Wave]");
  assert.deepEqual(m.attachments?.map((a) => a.name), ["Wave.png"]);
});

Deno.test("an agent's files reach Discord as files (10 per message), too-big ones as links", async () => {
  await using h = await startHarness({ env: { ...quiet, DISCORD_MAX_UPLOAD_MB: "0.01" } }); // ~10 KiB
  const userId = "691000000000000005";
  const { conversationId } = await openTicket(h, userId);
  const files = Array.from({ length: 12 }, (_, i) => ({
    name: `photo${i}.png`,
    contentType: "image/png",
    bytes: bytes(500, i),
  }));
  files.push({ name: "manual.pdf", contentType: "application/pdf", bytes: bytes(50_000) });
  const payload = h.chatwoot.agentReply(conversationId, "Here you go", { files });
  await h.chatwoot.deliver(payload);
  const sent = await h.discord.waitFor(
    () => h.discord.sentTo(userId).length >= 2 && h.discord.sentTo(userId),
    "two messages",
  );
  const uploaded = sent.flatMap((m) => (m.files ?? []) as { name: string; bytes: Uint8Array }[]);
  assert.equal(sent.length, 2);
  assert.equal(uploaded.length, 12);
  assert.equal((sent[0].files as unknown[]).length, 10, "ten files ride with the text");
  assert.deepEqual(uploaded[0].bytes, files[0].bytes, "the bytes arrive intact");
  assert.match(
    sent[0].content,
    /^Here you go\n📎 manual\.pdf \(48\.8 KiB\): http:\/\/127\.0\.0\.1:\d+\/rails\/active_storage/,
  );
  const cw = h.chatwoot.messages.find((m) => m.id === payload.id)!;
  await h.chatwoot.waitFor(() => cw.status === "delivered", "delivered");
});
