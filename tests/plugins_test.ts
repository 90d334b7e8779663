import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";

/** A stand-in for the operator's own user service on 127.0.0.1. */
function userService(handler: (req: Request) => Response | Promise<Response>) {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push(new URL(req.url).pathname);
    return handler(req);
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, seen, close: () => server.shutdown() };
}

Deno.test("the HTTP lookup plugin adds email, name and attributes to a new contact", async () => {
  const service = userService((req) =>
    req.headers.get("x-api-key") === "lookup-key"
      ? Response.json({
        email: "alice@example.com",
        name: "Alice Liddell",
        customAttributes: { plan: "pro" },
      })
      : new Response("no", { status: 401 })
  );
  try {
    await using h = await startHarness({
      env: {
        CONTACT_LOOKUP_URL: `${service.url}/users/{discordId}`,
        CONTACT_LOOKUP_HEADER: "x-api-key: lookup-key",
      },
    });
    const userId = "640000000000000001";
    const dm = h.discord.sendDm({ userId, content: "hi" });
    await h.chatwoot.waitFor(
      () => h.chatwoot.messages.find((m) => m.source_id === dm.messageId),
      "the DM",
    );
    const contact = h.chatwoot.contacts[0];
    assert.equal(contact.email, "alice@example.com");
    assert.equal(contact.name, "Alice Liddell");
    assert.equal(contact.custom_attributes.plan, "pro");
    assert.equal(contact.custom_attributes.discord_id, userId, "bridge attributes are kept");
    assert.equal(service.seen[0], `/users/${userId}`);
    assert.ok(!h.logs.some((l) => l.includes("lookup-key")), "the header value is never logged");
  } finally {
    await service.close();
  }
});

Deno.test("the Singlty plugin calls /internal/users/by-discord/:id with x-api-key", async () => {
  const service = userService((req) =>
    req.headers.get("x-api-key") === "singlty-key"
      ? Response.json({ id: 987, email: "bob@example.com" })
      : new Response("no", { status: 401 })
  );
  try {
    await using h = await startHarness({
      env: { SINGLTY_API_URL: service.url, SINGLTY_API_KEY: "singlty-key" },
    });
    const userId = "640000000000000002";
    const dm = h.discord.sendDm({ userId, content: "hi" });
    await h.chatwoot.waitFor(
      () => h.chatwoot.messages.find((m) => m.source_id === dm.messageId),
      "the DM",
    );
    assert.equal(service.seen[0], `/internal/users/by-discord/${userId}`);
    assert.equal(h.chatwoot.contacts[0].email, "bob@example.com");
    assert.equal(h.chatwoot.contacts[0].custom_attributes.user_id, "987");
  } finally {
    await service.close();
  }
});

Deno.test("a slow or failing plugin never blocks a ticket", async () => {
  let calls = 0;
  const service = userService(async () => {
    calls++;
    if (calls === 1) {
      await new Promise((r) => setTimeout(r, 800));

      return Response.json({ email: "late@example.com" });
    }
    return new Response("boom", { status: 500 });
  });
  try {
    await using h = await startHarness({
      env: { CONTACT_LOOKUP_URL: `${service.url}/u/{discordId}` },
      timings: { pluginTimeoutMs: 300 }, // stands for the 2 s default
    });
    const started = Date.now();
    const slow = h.discord.sendDm({ userId: "640000000000000003", content: "hi" });
    await h.chatwoot.waitFor(
      () => h.chatwoot.messages.find((m) => m.source_id === slow.messageId),
      "the DM",
      4000,
    );
    const took = Date.now() - started;
    assert.ok(took >= 280 && took < 800, `took ${took} ms (plugin timeout is 300 ms here)`);
    assert.equal(h.chatwoot.contacts[0].email, null);

    const failing = h.discord.sendDm({ userId: "640000000000000004", content: "hi" });
    await h.chatwoot.waitFor(
      () => h.chatwoot.messages.find((m) => m.source_id === failing.messageId),
      "the DM",
    );
    assert.ok(h.logs.some((l) => l.includes("contact plugin failed") && l.includes("HTTP 500")));
  } finally {
    await service.close();
  }
});
