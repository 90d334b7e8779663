/**
 * Answers read with a byte cap: a server that streams JSON forever costs the
 * bridge at most 4 MiB per answer (then the read stops and the call fails
 * with a clean cause), where `res.text()` read on until the timeout —
 * hundreds of MiB. The "server" is an injected fetch whose answer is produced
 * only as it is read, so what it counts is what our code pulled.
 */
import assert from "node:assert/strict";
import { ChatwootError } from "../src/chatwoot/api_call.ts";
import { createChatwootClient } from "../src/chatwoot/client.ts";
import { checkConfig } from "../src/cli/check_config.ts";
import { loadConfig } from "../src/config.ts";
import { fakeToken } from "../src/fakes/fake_discord.ts";
import { API_ANSWER_MAX_BYTES } from "../src/net/capped_answer.ts";
import { httpLookupPlugin } from "../src/plugins/http_lookup.ts";

const CHUNK = 64 * 1024;
/** The cap, plus the chunk that crossed it and one the stream may have queued ahead. */
const MOST_PULLED = API_ANSWER_MAX_BYTES + 2 * CHUNK;

/** A fetch whose every answer is `200 [{…},{…},…` without end (until its signal aborts). */
function endlessJson() {
  const seen = { requests: 0, mostPulled: 0 };
  const record = new TextEncoder().encode(`{"id":1,"name":"${"x".repeat(CHUNK - 20)}"},`);
  const fetchImpl: typeof fetch = (_input, init) => {
    seen.requests++;
    const signal = init?.signal;
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 1)); // about 64 MiB/s, like a fast link
        if (signal?.aborted) return controller.error(signal.reason);
        const bytes = pulled === 0 ? new TextEncoder().encode("[") : record;
        pulled += bytes.byteLength;
        seen.mostPulled = Math.max(seen.mostPulled, pulled);
        controller.enqueue(bytes);
      },
    }, new CountQueuingStrategy({ highWaterMark: 0 }));
    return Promise.resolve(
      new Response(body, { headers: { "content-type": "application/json" } }),
    );
  };
  return { fetch: fetchImpl, seen };
}

Deno.test("Chatwoot client: an endless answer stops at 4 MiB and fails as an outage with its cause", async () => {
  const server = endlessJson();
  const client = createChatwootClient({
    baseUrl: "http://chatwoot.test",
    accountId: 1,
    inboxId: 1,
    apiToken: "cw-token",
    fetch: server.fetch,
    timeoutMs: 2_000,
  });
  const started = performance.now();
  const error = await client.searchContacts("someone").then(() => undefined, (e) => e);
  assert.ok(server.seen.mostPulled <= MOST_PULLED, `pulled ${server.seen.mostPulled} bytes`);
  assert.ok(error instanceof ChatwootError, String(error));
  assert.match(error.message, /larger than 4 MiB/);
  assert.equal(error.status, 0, "retried like no answer");
  assert.ok(performance.now() - started < 1_500, "ended by the cap, not the timeout");
});

Deno.test("contact plugin: an endless answer stops at 4 MiB", async () => {
  const server = endlessJson();
  const plugin = httpLookupPlugin({ urlTemplate: "http://users.test/{discordId}", ...server });
  const error = await plugin.enrichContact(
    { id: "1", username: "u", displayName: "u" },
    AbortSignal.timeout(2_000),
  ).then(() => undefined, (e) => e);
  assert.ok(server.seen.mostPulled <= MOST_PULLED, `pulled ${server.seen.mostPulled} bytes`);
  assert.match(String(error), /larger than 4 MiB/);
});

Deno.test("check-config: endless answers stop at 4 MiB each and are reported in one line", async () => {
  const server = endlessJson();
  const loaded = loadConfig({
    DISCORD_TOKEN: fakeToken("123456789012345678", "x"),
    DISCORD_API_URL: "http://discord.test/api",
    CHATWOOT_BASE_URL: "http://chatwoot.test",
    CHATWOOT_ACCOUNT_ID: "1",
    CHATWOOT_API_TOKEN: "cw-secret-token-value",
    CHATWOOT_INBOX_ID: "7",
    WEBHOOK_SECRET: "webhook-secret-value",
    WEBHOOK_HOST: "127.0.0.1",
    WEBHOOK_PORT: "0",
    KV_PATH: ":memory:",
  });
  if (!loaded.ok) throw new Error(loaded.problems.join("; "));
  const lines: string[] = [];
  const code = await checkConfig(loaded.config, {
    fetch: server.fetch,
    timeoutMs: 2_000,
    out: (line) => lines.push(line),
  });
  const output = lines.join("\n");
  assert.equal(code, 1);
  assert.ok(server.seen.requests > 0);
  assert.ok(server.seen.mostPulled <= MOST_PULLED, `pulled ${server.seen.mostPulled} bytes`);
  assert.match(output, /✘ Discord[^\n]*larger than 4 MiB/);
  assert.ok(!/\n\s+at /.test(output), `a stack trace:\n${output}`);
});
