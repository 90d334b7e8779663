/** The bounded download on its own: what it refuses to fetch, how much it reads, how long it waits. */
import assert from "node:assert/strict";
import {
  boundedDownload,
  DownloadNetworkError,
  downloadTimeoutMs,
} from "../src/net/bounded_download.ts";
import { countedBody, CountingServer } from "./helpers/counting_server.ts";

const MiB = 1024 * 1024;

/** A fetch that counts the body bytes its caller actually read. */
function countingFetch(read: { bytes: number }): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body) return res;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        read.bytes += value.byteLength;
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

Deno.test("refused URLs are never fetched: other origins, other schemes, userinfo tricks", async () => {
  await using server = new CountingServer();
  const allowed = ["https://files.example.com"];
  const urls = [
    `${server.origin}/secret`,
    "file:///etc/hostname",
    "data:text/plain,hello",
    `https://files.example.com@${new URL(server.origin).host}/x`,
    "not a url",
  ];
  for (const url of urls) {
    const result = await boundedDownload(url, {
      allowedOrigins: allowed,
      maxBytes: 10,
      timeoutMs: 500,
    });
    assert.equal(result.kind, "refused", url);
  }
  assert.equal(server.requests.length, 0);
});

Deno.test("the body is read only up to the cap: limit + one chunk at most, then the connection is dropped", async () => {
  const written = { bytes: 0 };
  await using server = new CountingServer(() => countedBody(50 * MiB, written));
  const read = { bytes: 0 };
  const limit = 3 * MiB;
  const result = await boundedDownload(`${server.origin}/big`, {
    allowedOrigins: [server.origin],
    maxBytes: limit,
    timeoutMs: 5_000,
    fetch: countingFetch(read),
  });
  assert.equal(result.kind, "refused");
  assert.ok(result.kind === "refused" && result.code === "too-large");
  // The stream's chunks are at most 64 KiB here: the read that passes the cap is the last one.
  assert.ok(read.bytes > limit && read.bytes <= limit + 64 * 1024, `read ${read.bytes}`);
  await new Promise((r) => setTimeout(r, 100));
  console.log(
    `cap ${limit} bytes: read ${read.bytes}, server wrote ${written.bytes} of ${50 * MiB}`,
  );
});

Deno.test("an announced Content-Length over the cap is refused before any body byte is read", async () => {
  const written = { bytes: 0 };
  await using server = new CountingServer(() =>
    countedBody(50 * MiB, written, { contentLength: true })
  );
  const read = { bytes: 0 };
  const result = await boundedDownload(`${server.origin}/big`, {
    allowedOrigins: [server.origin],
    maxBytes: MiB,
    timeoutMs: 5_000,
    fetch: countingFetch(read),
  });
  assert.ok(result.kind === "refused" && result.code === "too-large");
  assert.equal(read.bytes, 0);
});

Deno.test("a server that stalls mid-body times out (a retryable network error, no URL in it)", async () => {
  await using server = new CountingServer(() =>
    new Response(
      new ReadableStream({
        start: (c) => c.enqueue(new Uint8Array(10)), // then nothing, forever
      }),
    )
  );
  const started = performance.now();
  await assert.rejects(
    boundedDownload(`${server.origin}/slow?token=signed-secret`, {
      allowedOrigins: [server.origin],
      maxBytes: MiB,
      timeoutMs: 200,
    }),
    (error: Error) => {
      assert.ok(error instanceof DownloadNetworkError);
      assert.ok(!error.message.includes("signed-secret"), error.message);
      return true;
    },
  );
  assert.ok(performance.now() - started < 2_000);
});

Deno.test("the timeout grows with the bytes allowed: 10 s plus 1 s per MiB", () => {
  assert.equal(downloadTimeoutMs(0), 10_000);
  assert.equal(downloadTimeoutMs(10 * MiB), 20_000);
  assert.equal(downloadTimeoutMs(40 * MiB), 50_000);
});

Deno.test("a redirect to a file: URL or an unlisted origin is not followed; relative ones are", async () => {
  const targets = new Map<string, string>([
    ["/to-file", "file:///etc/passwd"],
    ["/to-other", "http://169.254.169.254/latest/meta-data"],
    ["/relative", "/final"],
  ]);
  await using server = new CountingServer((url) =>
    targets.has(url.pathname)
      ? new Response(null, { status: 302, headers: { location: targets.get(url.pathname)! } })
      : new Response("final bytes")
  );
  const get = (path: string) =>
    boundedDownload(`${server.origin}${path}`, {
      allowedOrigins: [server.origin],
      maxBytes: MiB,
      timeoutMs: 2_000,
    });
  const toFile = await get("/to-file");
  assert.ok(toFile.kind === "refused" && toFile.code === "scheme");
  const toOther = await get("/to-other");
  assert.ok(toOther.kind === "refused" && toOther.code === "origin");
  const relative = await get("/relative");
  assert.ok(relative.kind === "file");
  assert.equal(new TextDecoder().decode(relative.bytes), "final bytes");
  assert.deepEqual(server.requests, ["/to-file", "/to-other", "/relative", "/final"]);
});

Deno.test("a compressed body is checked by its decompressed bytes against the cap", async () => {
  const text = "an agent's notes ".repeat(2_000);
  const gzip = async () =>
    new Uint8Array(
      await new Response(
        new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
  const compressed = await gzip();
  await using server = new CountingServer(() =>
    new Response(compressed, {
      headers: { "content-encoding": "gzip", "content-type": "text/plain" },
    })
  );
  const get = (maxBytes: number) =>
    boundedDownload(`${server.origin}/notes.txt`, {
      allowedOrigins: [server.origin],
      maxBytes,
      timeoutMs: 2_000,
    });
  const whole = await get(text.length);
  assert.ok(whole.kind === "file");
  assert.equal(new TextDecoder().decode(whole.bytes), text);
  const capped = await get(text.length - 1);
  assert.ok(capped.kind === "refused" && capped.code === "too-large");
});
