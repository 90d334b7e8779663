import assert from "node:assert/strict";
import type { FakeChatwoot } from "../src/fakes/fake_chatwoot.ts";
import type { FakeDiscord } from "../src/fakes/fake_discord.ts";
import { fakeEnv } from "./helpers/harness.ts";
import { withFakes } from "./helpers/with_fakes.ts";
import { freePort, SERVE_SHORT_LEASES, spawnCordwoot } from "./helpers/process.ts";

function bridgeEnv(discord: FakeDiscord, chatwoot: FakeChatwoot, port: number) {
  const dir = Deno.makeTempDirSync();
  return fakeEnv(discord, chatwoot, {
    KV_PATH: `${dir}/cordwoot.kv`,
    WEBHOOK_PORT: String(port),
    GREETING_ENABLED: "false",
    LOG_LEVEL: "info",
  });
}

Deno.test("SIGKILL during a burst of 50 DMs from 5 users: after restart every DM arrives exactly once, in order", async () => {
  await withFakes(async (discord, chatwoot) => {
    chatwoot.delayMs = 15; // every Chatwoot call takes a while, so the kill lands mid-burst
    const env = bridgeEnv(discord, chatwoot, freePort());
    // 3 s leases: the restarted process takes the killed one's mailboxes over after 3 s, not 15 s.
    const first = spawnCordwoot([], { env, entry: SERVE_SHORT_LEASES });
    await first.waitForLog("discord gateway ready");
    const users = [1, 2, 3, 4, 5].map((n) => `67000000000000000${n}`);
    const sent: { userId: string; messageId: string }[] = [];
    for (let i = 0; i < 50; i++) {
      const userId = users[i % 5];
      sent.push({ userId, messageId: discord.sendDm({ userId, content: `dm ${i}` }).messageId });
    }
    await chatwoot.waitFor(
      () => chatwoot.messages.length >= 10,
      "the burst to be under way",
      10_000,
    );
    first.child.kill("SIGKILL");
    await first.result;
    const deliveredBeforeKill = chatwoot.messages.length;
    assert.ok(deliveredBeforeKill < 50, "the kill happened mid-burst");

    const restartedAt = Date.now();
    const second = spawnCordwoot([], { env, entry: SERVE_SHORT_LEASES });
    await chatwoot.waitFor(
      () => sent.every((s) => chatwoot.messages.some((m) => m.source_id === s.messageId)),
      "every DM after the restart",
      45_000,
    );
    const recoveredIn = Date.now() - restartedAt;
    await new Promise((r) => setTimeout(r, 500));
    second.child.kill("SIGTERM");
    const { code } = await second.result;
    assert.equal(code, 0);

    const ids = chatwoot.messages.map((m) => m.source_id);
    const duplicated = ids.length - new Set(ids).size;
    const lost = sent.filter((s) => !ids.includes(s.messageId)).length;
    console.log(
      `kill test: ${deliveredBeforeKill}/50 delivered before SIGKILL; after restart lost=${lost} duplicated=${duplicated}; all delivered ${recoveredIn} ms after the restart`,
    );
    assert.equal(lost, 0);
    assert.equal(duplicated, 0);
    for (const userId of users) {
      const expected = sent.filter((s) => s.userId === userId).map((s) => s.messageId);
      const contact = chatwoot.contacts.find((c) => c.identifier === `discord:${userId}`)!;
      const conversation = chatwoot.conversations.filter((c) => c.contact_id === contact.id);
      assert.equal(conversation.length, 1, "one conversation per user");
      assert.deepEqual(chatwoot.messagesIn(conversation[0].id).map((m) => m.source_id), expected);
    }
    assert.equal(chatwoot.contacts.length, 5);
  }, { webhookSecret: "crash-test-secret" });
});

Deno.test("a reply whose webhook failed and a DM sent while the bridge was down both arrive after restart", async () => {
  await withFakes(async (discord, chatwoot) => {
    const port = freePort();
    const env = bridgeEnv(discord, chatwoot, port);
    chatwoot.webhookUrl = `http://127.0.0.1:${port}/webhook`;
    const userId = "670000000000000011";
    const first = spawnCordwoot([], { env });
    await first.waitForLog("discord gateway ready");
    const hello = discord.sendDm({ userId, content: "hello" });
    await discord.waitFor(
      () => discord.reactions.some((r) => r.messageId === hello.messageId),
      "the ✅",
      10_000,
    );
    first.child.kill("SIGTERM");
    assert.equal((await first.result).code, 0);
    await discord.waitFor(() => discord.connectedSessions === 0, "the bot to disconnect");

    // While the bridge is down: the agent answers (Chatwoot's webhook fails, and it never retries)…
    const conversationId = chatwoot.messages[0].conversation_id;
    const reply = chatwoot.agentReply(conversationId, "Sorry for the wait!");
    await assert.rejects(chatwoot.deliver(reply), "the webhook POST fails");
    // …and the user writes again (Discord will not replay it to the bot).
    const missed = discord.sendDm({ userId, content: "are you there?" });

    const second = spawnCordwoot([], { env });
    await discord.waitFor(() => discord.repliesTo(userId).length === 1, "the missed reply", 15_000);
    await chatwoot.waitFor(
      () => chatwoot.messages.find((m) => m.source_id === missed.messageId),
      "the missed DM",
      15_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    second.child.kill("SIGTERM");
    const { stderr } = await second.result;
    assert.deepEqual(discord.repliesTo(userId).map((m) => m.content), ["Sorry for the wait!"]);
    assert.equal(chatwoot.messages.filter((m) => m.source_id === missed.messageId).length, 1);
    assert.match(
      stderr,
      /"msg":"reconciliation done","conversations":1,"apiCalls":1,"missedRepliesQueued":1/,
    );
    assert.match(
      stderr,
      /"msg":"missed DM catch-up done","users":1,"apiCalls":1,"missedDmsQueued":1/,
    );
  }, { webhookSecret: "crash-test-secret" });
});

Deno.test("SIGTERM lets the DM in flight finish, then exits cleanly", async () => {
  await withFakes(async (discord, chatwoot) => {
    const env = bridgeEnv(discord, chatwoot, freePort());
    const run = spawnCordwoot([], { env });
    await run.waitForLog("discord gateway ready");
    chatwoot.delayMs = 300; // a first contact makes three calls: about 1 s of work
    const dm = discord.sendDm({ userId: "670000000000000021", content: "in flight" });
    await run.waitForLog('"msg":"dm queued"');
    const stoppedAt = Date.now();
    run.child.kill("SIGTERM");
    const { code, stderr } = await run.result;
    assert.equal(code, 0, stderr);
    assert.ok(
      chatwoot.messages.some((m) => m.source_id === dm.messageId),
      "finished before exiting",
    );
    assert.ok(Date.now() - stoppedAt < 12_000, "shutdown is bounded");
  }, { webhookSecret: "crash-test-secret" });
});
