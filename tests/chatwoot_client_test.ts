/**
 * The one Chatwoot client, as check-config uses it: the webhook setup it
 * reads, and failures that say how they failed (no answer, or an answer that
 * is not Chatwoot's), bounded in time body included.
 */
import assert from "node:assert/strict";
import { ChatwootError } from "../src/chatwoot/api_call.ts";
import { createChatwootClient } from "../src/chatwoot/client.ts";
import { FakeChatwoot } from "../src/fakes/fake_chatwoot.ts";

function clientFor(base: string, options: { token?: string; timeoutMs?: number } = {}) {
  return createChatwootClient({
    baseUrl: base,
    accountId: 1,
    inboxId: 7,
    apiToken: options.token ?? "cw-fake-access-token",
    timeoutMs: options.timeoutMs ?? 2_000,
  });
}

/** Runs `fn` with a fresh fake Chatwoot, closed afterwards. */
async function withChatwoot(fn: (chatwoot: FakeChatwoot) => Promise<void>) {
  const chatwoot = FakeChatwoot.start();
  try {
    await fn(chatwoot);
  } finally {
    await chatwoot.close();
  }
}

async function failureOf(call: Promise<unknown>): Promise<ChatwootError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ChatwootError, `not a ChatwootError: ${error}`);
    return error;
  }
  throw new Error("the call succeeded");
}

Deno.test("the client reads the inbox's callback and the account webhooks, as Chatwoot shows them", async () => {
  await withChatwoot(async (chatwoot) => {
    chatwoot.inbox.webhook_url = "https://support.example.com/webhook";
    chatwoot.inbox.secret = "inbox-secret";
    chatwoot.webhooks.push({
      id: 4,
      url: "https://support.example.com/webhook",
      subscriptions: ["message_created"],
      secret: null,
    });
    const client = clientFor(chatwoot.baseUrl);
    assert.deepEqual(await client.readInboxSetup(), {
      id: 7,
      name: "Discord DMs",
      channelType: "Channel::Api",
      webhookUrl: "https://support.example.com/webhook",
      secret: "inbox-secret",
    });
    assert.deepEqual(await client.listAccountWebhooks(), [
      {
        id: 4,
        url: "https://support.example.com/webhook",
        subscriptions: ["message_created"],
        secret: null,
      },
    ]);
    assert.deepEqual(
      chatwoot.calls.map((c) => `${c.method} ${c.path}`),
      ["GET /api/v1/accounts/1/inboxes/7", "GET /api/v1/accounts/1/webhooks"],
    );
  });
});

Deno.test("the webhook index reads the same in each shape Chatwoot and its spec give", async () => {
  const hook = { id: 1, url: "https://x.example/webhook", subscriptions: null };
  const shapes = [[hook], { payload: { webhooks: [hook] } }, { payload: [hook] }];
  let next = 0;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json(shapes[next++]),
  );
  const client = clientFor(`http://127.0.0.1:${server.addr.port}`);
  for (let i = 0; i < shapes.length; i++) {
    assert.deepEqual(await client.listAccountWebhooks(), [
      { id: 1, url: "https://x.example/webhook", subscriptions: [], secret: null },
    ]);
  }
});

Deno.test("a failed call says what came back: status, media type, Chatwoot's own error", async () => {
  await withChatwoot(async (chatwoot) => {
    const client = clientFor(chatwoot.baseUrl, { token: "wrong-token-value" });
    const refused = await failureOf(client.getInbox());
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.fault, {
      answered: true,
      contentType: "application/json",
      json: { error: "Invalid Access Token" },
    });
    assert.ok(!refused.message.includes("wrong-token-value"), "the token is not in the error");
  });
  await using html = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response("<html><body>404</body></html>", {
        status: 404,
        headers: { "content-type": "text/html; charset=utf-8" },
      }),
  );
  const notChatwoot = await failureOf(
    clientFor(`http://127.0.0.1:${html.addr.port}`).readInboxSetup(),
  );
  assert.equal(notChatwoot.status, 404);
  assert.deepEqual(notChatwoot.fault, {
    answered: true,
    contentType: "text/html",
    json: undefined,
  });
});

Deno.test("an answer whose body stalls is no answer: a ChatwootError within the timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      held.push(conn);
      // Headers and the first byte of a 100-byte body, then nothing.
      await conn.write(new TextEncoder().encode(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
      ));
    }
  })();
  try {
    const client = clientFor(`http://127.0.0.1:${listener.addr.port}`, { timeoutMs: 150 });
    const started = performance.now();
    const error = await failureOf(client.readInboxSetup());
    assert.ok(performance.now() - started < 2_000, "ended near its timeout");
    assert.equal(error.status, 0);
    assert.equal(error.fault?.answered, false);
    assert.equal(error.fault?.answered === false && error.fault.timedOut, true);
    assert.match(error.message, /no answer within 150 ms/);
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await serving.catch(() => {});
  }
});
