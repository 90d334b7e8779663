import assert from "node:assert/strict";
import { fakeToken } from "./fakes/fake_discord.ts";
import { fakeEnv } from "./helpers/harness.ts";
import { withFakes } from "./helpers/with_fakes.ts";
import { spawnCordwoot } from "./helpers/process.ts";

Deno.test("demo: a newcomer watches a whole ticket play out, with no accounts", async () => {
  const { code, stdout, stderr } = await spawnCordwoot(["demo"], { env: {} }).result;
  assert.equal(code, 0, stderr);
  for (
    const line of [
      /Alice → bot: Hi! My order #4411 never arrived\./,
      /new contact "Alice" \(discord:\d+\), conversation #\d+/,
      /bot → Alice: 〔Hi Alice! Thanks for writing to Acme Support\.〕/,
      /\[📎 label-example\.png, \d+ bytes\]/,
      /message with 1 attachment \(my-label\.jpg/,
      /the update in 3 messages .* text intact/,
      /〔Ticket resolved: /,
      /\[button: ⭐ Rate us\]/,
      /CSAT response recorded: 5\/5, "Quick and kind, thanks!"/,
    ]
  ) assert.match(stdout, line);
});

const ALL_EVENTS = [
  "message_created",
  "message_updated",
  "conversation_updated",
  "contact_updated",
];

Deno.test("check-config: a healthy setup passes every check", async () => {
  await withFakes(async (discord, chatwoot) => {
    chatwoot.webhooks.push({
      id: 1,
      url: "https://support.example.com/webhook",
      subscriptions: ALL_EVENTS,
      secret: "the-right-secret",
    });
    const env = fakeEnv(discord, chatwoot, { PUBLIC_URL: "https://support.example.com" });
    const registered = await spawnCordwoot(["register-commands"], { env }).result;
    assert.equal(registered.code, 0);
    const { code, stdout } = await spawnCordwoot(["check-config"], { env }).result;
    assert.equal(code, 0, stdout);
    assert.doesNotMatch(stdout, /✘/);
    for (
      const label of [
        "Discord token",
        "Slash commands",
        "Chatwoot token",
        "Chatwoot inbox",
        "Chatwoot webhook",
      ]
    ) {
      assert.match(stdout, new RegExp(`✔ ${label} — `));
    }
    assert.match(stdout, /\d+ checks passed, 0 failed/);
  }, { webhookSecret: "the-right-secret" });
});

Deno.test("check-config: a wrong token, a non-API inbox and a missing webhook are each reported with a fix", async () => {
  await withFakes(async (discord, chatwoot) => {
    chatwoot.inbox.channel_type = "Channel::Email";
    const env = fakeEnv(discord, chatwoot, { DISCORD_TOKEN: fakeToken(discord.botId, "wrong") });
    const { code, stdout } = await spawnCordwoot(["check-config"], { env }).result;
    assert.equal(code, 1);
    assert.match(
      stdout,
      /✘ Discord token — Discord refused the token \(HTTP 401\)\n {4}fix: Developer Portal > your application > Bot > Reset Token/,
    );
    assert.match(
      stdout,
      /✘ Chatwoot inbox — "Discord DMs" is a Channel::Email inbox, not an API inbox\n {4}fix: create one under Settings > Inboxes > Add Inbox > API/,
    );
    assert.match(
      stdout,
      /✘ Chatwoot webhook — no webhook points at .*\/webhook\n {4}fix: add a webhook in Chatwoot/,
    );
    assert.ok(
      !stdout.includes(env.CHATWOOT_API_TOKEN) && !stdout.includes(env.DISCORD_TOKEN),
      "no secret printed",
    );
  }, { webhookSecret: "the-right-secret" });
});

Deno.test("check-config: unregistered commands, missing events and a mismatched secret", async () => {
  await withFakes(async (discord, chatwoot) => {
    chatwoot.webhooks.push({
      id: 2,
      url: "http://10.0.0.5:3000/webhook",
      subscriptions: ["conversation_created"],
      secret: "another-secret",
    });
    const env = fakeEnv(discord, chatwoot);
    let { code, stdout } = await spawnCordwoot(["check-config"], { env }).result;
    assert.equal(code, 1);
    assert.match(stdout, /✘ Slash commands — not registered: \/support, \/status/);
    assert.match(stdout, /fix: run `cordwoot register-commands`/);
    assert.match(
      stdout,
      /✘ Chatwoot webhook — http:\/\/10\.0\.0\.5:3000\/webhook lacks the events message_created, conversation_updated/,
    );
    chatwoot.webhooks[0].subscriptions = ALL_EVENTS;
    ({ code, stdout } = await spawnCordwoot(["check-config"], { env }).result);
    assert.match(
      stdout,
      /✘ Webhook secret — WEBHOOK_SECRET does not match the account webhook's secret/,
    );
    assert.ok(!stdout.includes("another-secret"));
  }, { webhookSecret: "the-right-secret" });
});
