import assert from "node:assert/strict";
import { startHarness } from "./helpers/harness.ts";
import { commandInteraction, interactionSigner, postInteraction } from "./helpers/interactions.ts";

Deno.test("POST /interactions: PING → PONG; any bad signature → 401 (as Discord's endpoint check requires)", async () => {
  const signer = await interactionSigner();
  const other = await interactionSigner();
  await using h = await startHarness({ env: { DISCORD_PUBLIC_KEY: signer.publicKeyHex } });
  const ping = { id: "1", type: 1, token: "t", application_id: "111111111111111111", version: 1 };

  const pong = await postInteraction(h.httpBase, signer, ping);
  assert.equal(pong.status, 200);
  assert.match(pong.headers.get("content-type")!, /application\/json/);
  assert.deepEqual(await pong.json(), { type: 1 });

  const cases: [string, Parameters<typeof postInteraction>[3]][] = [
    ["tampered body", { body: JSON.stringify({ ...ping, type: 2 }) }],
    ["wrong key", {
      signature: await other.sign(String(Math.floor(Date.now() / 1000)), JSON.stringify(ping)),
    }],
    ["stale timestamp", { timestamp: Math.floor(Date.now() / 1000) - 3600 }],
    ["missing signature", { signature: null }],
    ["missing timestamp", { timestampHeader: null }],
    ["garbage signature", { signature: "zz".repeat(64) }],
  ];
  for (const [name, options] of cases) {
    const res = await postInteraction(h.httpBase, signer, ping, options);
    assert.equal(res.status, 401, name);
    await res.body?.cancel();
  }
});

Deno.test("POST /interactions without DISCORD_PUBLIC_KEY is not there", async () => {
  await using h = await startHarness();
  const res = await fetch(`${h.httpBase}/interactions`, { method: "POST", body: "{}" });
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

Deno.test("an interaction delivered twice is handled once", async () => {
  const signer = await interactionSigner();
  await using h = await startHarness({ env: { DISCORD_PUBLIC_KEY: signer.publicKeyHex } });
  const help = commandInteraction("700000000000000001", "help", {});
  const first = await postInteraction(h.httpBase, signer, help);
  const second = await postInteraction(h.httpBase, signer, help);
  assert.equal(first.status, 202);
  assert.equal(second.status, 202);
  assert.equal(
    h.discord.interactionResponses.get(help.id)?.type,
    4,
    "answered over REST before the 202",
  );
  assert.equal(h.discord.requestsTo("POST", new RegExp(`^/interactions/${help.id}/`)).length, 1);
});

Deno.test("gateway off, no KV queue: a ticket through /support, and the agent's reply by DM", async () => {
  const signer = await interactionSigner();
  await using h = await startHarness({
    env: {
      DISCORD_PUBLIC_KEY: signer.publicKeyHex,
      DISCORD_GATEWAY: "false",
      GREETING_ENABLED: "false",
    },
  });
  assert.equal(h.discord.connectedSessions, 0, "no gateway connection");
  const health = await (await fetch(`${h.httpBase}/healthz`)).json();
  assert.equal(health.healthy, true);
  assert.equal(health.gateway.state, "off");
  assert.equal(health.mailboxes.wakeups, "inline");

  const userId = "700000000000000002";
  // From a server channel: the ticket command works there too.
  const fromServer = commandInteraction(userId, "support", { message: "My order never came" }, {
    guildId: "555555555555555555",
  });
  const res = await postInteraction(h.httpBase, signer, fromServer);
  assert.equal(res.status, 202);
  assert.equal(h.discord.interactionResponses.get(fromServer.id)?.type, 5, "deferred, ephemeral");
  const m = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === fromServer.id),
    "the message",
  );
  assert.equal(m.content, "My order never came");
  assert.equal(h.chatwoot.contacts[0].identifier, `discord:${userId}`);
  assert.match(JSON.stringify(await h.discord.editOf(fromServer)), /Message sent.*ticket #\d+/);

  // The agent answers: the user gets a DM over REST alone.
  await h.chatwoot.deliver(h.chatwoot.agentReply(m.conversation_id, "On its way!"));
  const dm = await h.discord.waitFor(() => h.discord.repliesTo(userId)[0], "the DM");
  assert.equal(dm.content, "On its way!");

  // And again from the bot's DMs: same ticket.
  const fromDm = commandInteraction(userId, "support", { message: "thanks" }, {
    dmChannelId: dm.channel_id,
  });
  await postInteraction(h.httpBase, signer, fromDm);
  const second = await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((x) => x.source_id === fromDm.id),
    "the 2nd",
  );
  assert.equal(second.conversation_id, m.conversation_id);
});
