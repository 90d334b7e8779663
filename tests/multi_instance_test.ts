import assert from "node:assert/strict";
import { FakeChatwoot } from "../src/fakes/fake_chatwoot.ts";
import { FakeDiscord } from "../src/fakes/fake_discord.ts";
import { fakeEnv } from "./helpers/harness.ts";
import { freePort, SERVE_SHORT_LEASES, spawnCordwoot } from "./helpers/process.ts";

Deno.test("two instances on one KV: one gateway; kill the leader, the other takes over, nothing twice", async () => {
  const discord = FakeDiscord.start();
  const chatwoot = FakeChatwoot.start({ webhookSecret: "multi-secret" });
  const kvPath = `${Deno.makeTempDirSync()}/shared.kv`;
  const env = (port: number) =>
    fakeEnv(discord, chatwoot, {
      KV_PATH: kvPath,
      WEBHOOK_PORT: String(port),
      GREETING_ENABLED: "false",
      LOG_LEVEL: "info",
    });
  const [portA, portB] = [freePort(), freePort()];
  // 3 s leases (15 s in production): the standby takes the gateway over 3 s after the kill.
  const a = spawnCordwoot([], { env: env(portA), entry: SERVE_SHORT_LEASES });
  try {
    await a.waitForLog("discord gateway ready");
    const b = spawnCordwoot([], { env: env(portB), entry: SERVE_SHORT_LEASES });
    try {
      await b.waitForLog("http server listening");
      let state = "";
      for (let i = 0; i < 100 && state !== "standby"; i++) {
        state = (await (await fetch(`http://127.0.0.1:${portB}/healthz`)).json()).gateway.state;
        if (state !== "standby") await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(state, "standby");
      assert.equal(discord.connectedSessions, 1, "exactly one gateway connection");

      const userId = "710000000000000001";
      const sent: string[] = [];
      const dm = (text: string) => sent.push(discord.sendDm({ userId, content: text }).messageId);
      for (let i = 0; i < 5; i++) dm(`before ${i}`);
      await chatwoot.waitFor(() => chatwoot.messages.length === 5, "the first five", 10_000);

      a.child.kill("SIGKILL");
      await a.result;
      await discord.waitFor(
        () => discord.connectedSessions === 0,
        "the leader's connection to drop",
      );
      for (let i = 0; i < 2; i++) dm(`while nobody listens ${i}`); // recovered by catch-up
      await b.waitForLog("this instance holds the gateway", 30_000);
      await discord.waitFor(
        () => discord.connectedSessions === 1,
        "the standby to connect",
        10_000,
      );
      for (let i = 0; i < 3; i++) dm(`after ${i}`);
      await chatwoot.waitFor(() => chatwoot.messages.length >= 10, "all ten DMs", 20_000);

      // Every instance serves HTTP: the reply webhook goes to the survivor.
      chatwoot.webhookUrl = `http://127.0.0.1:${portB}/webhook`;
      await chatwoot.deliver(
        chatwoot.agentReply(chatwoot.messages[0].conversation_id, "got them all"),
      );
      await discord.waitFor(() => discord.repliesTo(userId).length === 1, "the reply");

      await new Promise((r) => setTimeout(r, 500));
      const ids = chatwoot.messages.filter((m) => m.message_type === 0).map((m) => m.source_id);
      assert.deepEqual(ids, sent, "each DM once, in order");
    } finally {
      b.child.kill("SIGTERM");
      await b.result;
    }
  } finally {
    try {
      a.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await a.result;
    await discord.close();
    await chatwoot.close();
  }
});
