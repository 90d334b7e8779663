/**
 * The bridge fetches only what it expects: agent attachments from Chatwoot's
 * origin (or ATTACHMENT_ALLOWED_ORIGINS), user attachments from Discord's
 * CDN, http(s) only, redirects checked hop by hop, bodies capped in bytes.
 * Asserted on what the servers saw (requests, bytes written) and on what
 * reached the far side.
 */
import assert from "node:assert/strict";
import { countedBody, CountingServer } from "./helpers/counting_server.ts";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { type Harness, startHarness } from "./helpers/harness.ts";
import { openTicket } from "./helpers/tickets.ts";

const quiet = { GREETING_ENABLED: "false" };
const MiB = 1024 * 1024;
/**
 * What a server writes past the point where the bridge stops reading lands in
 * the kernel's socket buffers (about 2-4 MiB on loopback here); the bridge's
 * own reads stop at the cap (bounded_download_test.ts counts them exactly).
 */
const SOCKET_BUFFERS = 8 * MiB;

/** An agent reply with one file, its `data_url` (and announced size) replaced. */
function replyWithDataUrl(
  h: Harness,
  conversationId: number,
  dataUrl: string,
  fileSize: number | null = 9,
) {
  const payload = h.chatwoot.agentReply(conversationId, "see the file", {
    files: [{ name: "report.txt", contentType: "text/plain", bytes: new Uint8Array(9) }],
  });
  const [attachment] = payload.attachments as Record<string, unknown>[];
  attachment.data_url = dataUrl;
  attachment.file_size = fileSize;
  return payload;
}

async function replyTo(h: Harness, userId: string, payload: Record<string, unknown>) {
  assert.equal((await h.chatwoot.deliver(payload)).status, 200);
  return await h.discord.waitFor(() => h.discord.repliesTo(userId)[0], "the reply");
}

function filesOf(message: FakeMessage) {
  return (message.files ?? []) as { name: string; bytes: Uint8Array }[];
}

Deno.test("an agent attachment on another origin, or a file: URL, is never fetched: the user gets the link and why", async () => {
  await using internal = new CountingServer();
  await using h = await startHarness({ env: quiet });
  const userId = "694000000000000001";
  const { conversationId } = await openTicket(h, userId);

  const other = await replyTo(
    h,
    userId,
    replyWithDataUrl(h, conversationId, `${internal.origin}/secret?signature=s3cr3t-sig`),
  );
  assert.equal(internal.requests.length, 0, "the internal server was never asked");
  assert.equal(filesOf(other).length, 0);
  assert.ok(!other.content.includes("TOPSECRET"));
  assert.match(
    other.content,
    /📎 secret \(9 B\) not attached \(not from an address the bridge downloads from\): http:\/\/127\.0\.0\.1:\d+\/secret\?signature=s3cr3t-sig$/,
  );

  const userId2 = "694000000000000002";
  const second = await openTicket(h, userId2);
  const local = await replyTo(
    h,
    userId2,
    replyWithDataUrl(h, second.conversationId, "file:///etc/hostname"),
  );
  assert.equal(filesOf(local).length, 0, "no local file reaches Discord");
  assert.match(local.content, /not attached \(not an http\(s\) link\): file:\/\/\/etc\/hostname$/);
  const hostname = await Deno.readTextFile("/etc/hostname").catch(() => "");
  if (hostname.trim()) assert.ok(!local.content.includes(`\n${hostname.trim()}`));
  assert.ok(
    h.logs.some((l) => l.includes("attachment not downloaded") && l.includes(internal.origin)),
    "the refusal is logged with the origin to allow, if it was meant",
  );
  assert.ok(!h.logs.some((l) => l.includes("s3cr3t-sig")), "not with the URL's query");
});

Deno.test("a data_url on Chatwoot's origin that redirects elsewhere is not followed; an allowed storage origin is", async () => {
  const secret = new TextEncoder().encode("bytes from storage");
  await using storage = new CountingServer(() => new Response(secret));
  const redirectTo = (target: string) => (url: URL) =>
    url.pathname.startsWith("/rails/active_storage/hop")
      ? new Response(null, { status: 302, headers: { location: target } })
      : undefined;

  {
    await using h = await startHarness({ env: quiet });
    const userId = "694000000000000003";
    const { conversationId } = await openTicket(h, userId);
    h.chatwoot.serveFile = redirectTo(`${storage.origin}/blob/1`);
    const sent = await replyTo(
      h,
      userId,
      replyWithDataUrl(h, conversationId, `${h.chatwoot.baseUrl}/rails/active_storage/hop/1`),
    );
    assert.equal(storage.requests.length, 0, "the redirect was not followed");
    assert.equal(filesOf(sent).length, 0);
    assert.match(sent.content, /not attached \(not from an address the bridge downloads from\)/);
  }
  {
    await using h = await startHarness({
      env: { ...quiet, ATTACHMENT_ALLOWED_ORIGINS: storage.origin },
    });
    const userId = "694000000000000004";
    const { conversationId } = await openTicket(h, userId);
    h.chatwoot.serveFile = redirectTo(`${storage.origin}/blob/1`);
    const payload = replyWithDataUrl(
      h,
      conversationId,
      `${h.chatwoot.baseUrl}/rails/active_storage/hop/1`,
      secret.byteLength,
    );
    const sent = await replyTo(h, userId, payload);
    assert.deepEqual(storage.requests, ["/blob/1"]);
    assert.deepEqual(filesOf(sent)[0].bytes, secret, "followed to the allowed storage");
  }
});

Deno.test("redirects are followed at most three times", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "694000000000000005";
  const { conversationId } = await openTicket(h, userId);
  const hops: string[] = [];
  h.chatwoot.serveFile = (url) => {
    const n = /^\/loop\/(\d+)$/.exec(url.pathname)?.[1];
    if (n === undefined) return undefined;
    hops.push(n);
    return new Response(null, { status: 302, headers: { location: `/loop/${Number(n) + 1}` } });
  };
  const sent = await replyTo(
    h,
    userId,
    replyWithDataUrl(h, conversationId, `${h.chatwoot.baseUrl}/loop/0`),
  );
  assert.deepEqual(hops, ["0", "1", "2", "3"]);
  assert.match(sent.content, /not attached \(too many redirects\)/);
});

Deno.test("an agent file whose server lies (file_size 1, streams 50 MiB) is cut off at once and sent as a link", async () => {
  await using h = await startHarness({ env: quiet });
  const userId = "694000000000000006";
  const { conversationId } = await openTicket(h, userId);
  const written = { bytes: 0 };
  h.chatwoot.serveFile = (url) =>
    url.pathname === "/rails/active_storage/liar" ? countedBody(50 * MiB, written) : undefined;
  const rssBefore = Deno.memoryUsage().rss;
  const sent = await replyTo(
    h,
    userId,
    replyWithDataUrl(h, conversationId, `${h.chatwoot.baseUrl}/rails/active_storage/liar`, 1),
  );
  await new Promise((r) => setTimeout(r, 100)); // whatever the server still pushes
  console.log(
    `lying file_size 1, 50 MiB stream: server wrote ${written.bytes} bytes; rss +${
      ((Deno.memoryUsage().rss - rssBefore) / MiB).toFixed(1)
    } MiB`,
  );
  assert.ok(written.bytes < SOCKET_BUFFERS, `pulled ${written.bytes} bytes of 50 MiB`);
  assert.equal(filesOf(sent).length, 0);
  assert.match(sent.content, /📎 liar \(1 B\) not attached \(larger than its announced 1 B\)/);
});

Deno.test("without an announced size an agent file is capped at Discord's upload limit (+1 byte), Content-Length checked first", async () => {
  await using h = await startHarness({ env: { ...quiet, DISCORD_MAX_UPLOAD_MB: "1" } });
  const userId = "694000000000000007";
  const { conversationId } = await openTicket(h, userId);
  const streamed = { bytes: 0 };
  const announced = { bytes: 0 };
  h.chatwoot.serveFile = (url) =>
    url.pathname === "/rails/active_storage/unsized"
      ? countedBody(50 * MiB, streamed)
      : url.pathname === "/rails/active_storage/announced"
      ? countedBody(50 * MiB, announced, { contentLength: true })
      : undefined;
  const sent = await replyTo(
    h,
    userId,
    replyWithDataUrl(h, conversationId, `${h.chatwoot.baseUrl}/rails/active_storage/unsized`, null),
  );
  assert.match(sent.content, /not attached \(over the 1\.0 MiB upload limit\)/);
  assert.equal(filesOf(sent).length, 0);

  const userId2 = "694000000000000008";
  const second = await openTicket(h, userId2);
  const sent2 = await replyTo(
    h,
    userId2,
    replyWithDataUrl(
      h,
      second.conversationId,
      `${h.chatwoot.baseUrl}/rails/active_storage/announced`,
      null,
    ),
  );
  assert.match(sent2.content, /not attached \(over the 1\.0 MiB upload limit\)/);
  await new Promise((r) => setTimeout(r, 100));
  console.log(
    `no size announced, limit 1 MiB, 50 MiB stream: server wrote ${streamed.bytes} bytes; ` +
      `with Content-Length 50 MiB: ${announced.bytes} bytes`,
  );
  assert.ok(streamed.bytes < MiB + SOCKET_BUFFERS, `pulled ${streamed.bytes} bytes of 50 MiB`);
  assert.ok(announced.bytes < SOCKET_BUFFERS, `pulled ${announced.bytes} bytes of 50 MiB`);
});

Deno.test("a user's file from outside Discord's CDN is never fetched; one that outgrows its size is cut off", async () => {
  await using internal = new CountingServer();
  await using h = await startHarness({ env: quiet });
  const userId = "694000000000000009";
  await openTicket(h, userId);
  const dm = h.discord.sendDm({
    userId,
    content: "two files",
    files: [
      {
        name: "secret.png",
        contentType: "image/png",
        bytes: new Uint8Array(4),
        url: `${internal.origin}/secret.png`,
      },
      { name: "big.bin", contentType: "application/octet-stream", bytes: new Uint8Array(4) },
    ],
  });
  const written = { bytes: 0 };
  h.discord.serveCdn = (path) =>
    path.endsWith("/big.bin") ? countedBody(50 * MiB, written) : undefined;
  const m = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === dm.messageId),
    "the DM",
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(internal.requests.length, 0, "the internal server was never asked");
  assert.equal(m.attachments?.length ?? 0, 0);
  assert.match(
    m.content,
    /📎 secret\.png \(4 B\) not attached \(not from an address the bridge downloads from\): http:\/\/127\.0\.0\.1:\d+\/secret\.png/,
  );
  assert.match(m.content, /📎 big\.bin \(4 B\) not attached \(larger than its announced 4 B\)/);
  assert.ok(written.bytes < SOCKET_BUFFERS, `pulled ${written.bytes} bytes of 50 MiB`);
  console.log(`user file announced 4 B, 50 MiB stream: CDN wrote ${written.bytes} bytes`);
});
