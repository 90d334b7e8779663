import assert from "node:assert/strict";
import { hmacHex } from "../src/fakes/fake_chatwoot.ts";
import { startHarness } from "./helpers/harness.ts";
import { openTicket, settle } from "./helpers/tickets.ts";

/** A small deterministic generator, so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

Deno.test("1,000 malformed or hostile webhook bodies: each gets a 4xx, the bridge stays up, nothing is relayed", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "680000000000000001";
  const { conversationId } = await openTicket(h, userId);
  const valid = h.chatwoot.agentReply(conversationId, "a real reply, forged below");
  const rand = prng(42);
  const secret = h.chatwoot.webhookSecret!;

  const bodies: { body: string; signed: boolean; kind: string }[] = [];
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const filler = "A".repeat(1_101_000); // cut for the "huge" bodies rather than built 200 times
  for (let i = 0; i < 1000; i++) {
    const kind = pick(["bad-json", "wrong-types", "deep", "huge", "bad-signature"]);
    let body = "";
    switch (kind) {
      case "bad-json":
        body = pick(["{", "}", "[1,", '{"event":', "null", "\u0000\u0001", "{'a':1}", "NaN"]) +
          String.fromCharCode(Math.floor(rand() * 65536)).repeat(Math.floor(rand() * 50));
        break;
      case "wrong-types": {
        // A value of the wrong type for a field the bridge reads.
        const wrong: Record<string, unknown[]> = {
          id: ["x", 1.5, [], {}],
          inbox: ["x", 7, [], { id: "7" }],
          conversation: ["x", 128, [], { id: "128" }],
          message_type: [1, [], {}, null],
          event: [1, [], {}, null],
          private: ["x", 1, [], {}],
        };
        const field = pick(Object.keys(wrong));
        body = JSON.stringify({ ...valid, [field]: pick(wrong[field]) });
        break;
      }
      case "deep": {
        const depth = 1000 + Math.floor(rand() * 100_000);
        body = "[".repeat(depth) + "]".repeat(depth);
        break;
      }
      case "huge":
        // The bytes of JSON.stringify({ event: "message_created", content: "A".repeat(n) }).
        body = `{"event":"message_created","content":"${filler.slice(0, 1_100_000 + i)}"}`;
        break;
      case "bad-signature":
        body = JSON.stringify(valid);
        break;
    }
    bodies.push({ body, signed: kind !== "bad-signature", kind });
  }

  const statuses = new Map<string, Set<number>>();
  for (let i = 0; i < bodies.length; i += 25) {
    await Promise.all(
      bodies.slice(i, i + 25).map(async ({ body, signed, kind }) => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        const signature = signed
          ? `sha256=${await hmacHex(secret, `${timestamp}.${body}`)}`
          : `sha256=${await hmacHex("guessed-secret", `${timestamp}.${body}`)}`;
        const res = await fetch(`${h.httpBase}/webhook`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-chatwoot-timestamp": timestamp,
            "x-chatwoot-signature": signature,
          },
          body,
        });
        const text = await res.text();
        assert.ok(
          res.status >= 400 && res.status < 500,
          `${kind} got ${res.status}: ${text.slice(0, 100)}`,
        );
        assert.ok(!/\bat [\w.]+ \(/.test(text), "no stack trace");
        statuses.set(kind, (statuses.get(kind) ?? new Set()).add(res.status));
      }),
    );
  }
  assert.deepEqual([...statuses.get("bad-signature")!], [401]);
  assert.deepEqual([...statuses.get("huge")!], [413]);
  assert.deepEqual([...statuses.get("bad-json")!], [400]);

  await settle(h);
  assert.equal(h.discord.repliesTo(userId).length, 0, "nothing relayed");
  const health = await fetch(`${h.httpBase}/healthz`);
  assert.equal(health.status, 200, "still up and healthy");
  await health.body?.cancel();
  // And it still does its job.
  await h.chatwoot.deliver(h.chatwoot.agentReply(conversationId, "still working"));
  await h.discord.waitFor(() => h.discord.repliesTo(userId).length === 1, "a real reply");
});

Deno.test("reconciliation never relays a reply twice, nor messages from before the bridge attached", async () => {
  await using h = await startHarness({ env: { GREETING_ENABLED: "false" } });
  const userId = "680000000000000002";
  // An agent message from an earlier bridge, in a conversation cordwoot will continue.
  const api = (path: string, body: unknown) => h.chatwoot.asAgent(path, body);
  const created = await api("/contacts", {
    name: "Old",
    identifier: `discord:${userId}`,
    inbox_id: 7,
    source_id: userId,
  });
  const conversation = await api("/conversations", {
    inbox_id: 7,
    contact_id: created.payload.contact.id,
    source_id: userId,
  });
  h.chatwoot.agentReply(conversation.id, "an answer the old bridge delivered");
  h.chatwoot.messages.at(-1)!.created_at -= 3600;

  const { conversationId } = await openTicket(h, userId);
  assert.equal(conversationId, conversation.id);
  await h.chatwoot.deliver(h.chatwoot.agentReply(conversationId, "delivered by webhook"));
  await h.discord.waitFor(() => h.discord.repliesTo(userId).length === 1, "the reply");
  const result = await h.bridge.reconcile();
  assert.deepEqual(result, { conversations: 1, apiCalls: 1, queued: 0 });
  await settle(h);
  assert.deepEqual(h.discord.repliesTo(userId).map((m) => m.content), ["delivered by webhook"]);
});
