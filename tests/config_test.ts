import assert from "node:assert/strict";
import { botIdFromToken, loadConfig, mergeDotEnv } from "../src/config.ts";

const TOKEN = `${btoa("123456789012345678")}.Gabcde.secret-part-of-the-token`;
const valid = {
  DISCORD_TOKEN: TOKEN,
  CHATWOOT_BASE_URL: "https://chat.example.com/",
  CHATWOOT_ACCOUNT_ID: "1",
  CHATWOOT_API_TOKEN: "cw-token-value",
  CHATWOOT_INBOX_ID: "7",
};

Deno.test("a minimal environment gives the documented defaults", () => {
  const result = loadConfig(valid);
  assert.ok(result.ok);
  const c = result.config;
  assert.equal(c.chatwootBaseUrl, "https://chat.example.com");
  assert.equal(c.discordBotId, "123456789012345678");
  assert.equal(c.discordApplicationId, "123456789012345678");
  assert.equal(c.discordApiUrl, "https://discord.com/api");
  assert.equal(c.discordApiProxy, false);
  assert.equal(c.webhookPort, 3000);
  assert.equal(c.webhookSecret, undefined);
  assert.equal(c.kvPath, "./data/cordwoot.kv");
  assert.equal(c.confirmEmoji, "✅");
  assert.equal(c.logLevel, "info");
  assert.equal(c.logFormat, "json");
});

Deno.test("every missing required variable is named at once", () => {
  const result = loadConfig({});
  assert.ok(!result.ok);
  for (
    const name of [
      "DISCORD_TOKEN",
      "CHATWOOT_BASE_URL",
      "CHATWOOT_ACCOUNT_ID",
      "CHATWOOT_API_TOKEN",
      "CHATWOOT_INBOX_ID",
    ]
  ) {
    assert.ok(result.problems.some((p) => p.startsWith(`${name} `)), `${name} not reported`);
  }
  assert.equal(result.problems.length, 5);
});

Deno.test("every bad value is reported with what is expected, and no secret is echoed", () => {
  const result = loadConfig({
    ...valid,
    DISCORD_TOKEN: "not-a-token-but-a-secret-value",
    CHATWOOT_BASE_URL: "ftp://chat.example.com",
    CHATWOOT_ACCOUNT_ID: "abc",
    CHATWOOT_INBOX_ID: "0",
    WEBHOOK_PORT: "99999",
    LOG_LEVEL: "loud",
    LOG_FORMAT: "xml",
    DISCORD_API_PROXY: "maybe",
    DISCORD_CLIENT_ID: "12",
  });
  assert.ok(!result.ok);
  const expected = {
    DISCORD_TOKEN: "not a Discord bot token",
    CHATWOOT_BASE_URL: "http(s) URL",
    CHATWOOT_ACCOUNT_ID: "positive whole number",
    CHATWOOT_INBOX_ID: "positive whole number",
    WEBHOOK_PORT: "port number",
    LOG_LEVEL: "debug, info, warn or error",
    LOG_FORMAT: "json or pretty",
    DISCORD_API_PROXY: "true or false",
    DISCORD_CLIENT_ID: "application id",
  };
  for (const [name, hint] of Object.entries(expected)) {
    const problem = result.problems.find((p) => p.startsWith(`${name} `));
    assert.ok(problem, `${name} not reported in ${JSON.stringify(result.problems)}`);
    assert.ok(problem.includes(hint), `${name}: "${problem}" lacks "${hint}"`);
  }
  assert.ok(!result.problems.join("\n").includes("secret-value"));
});

Deno.test("a .env written for the seed bot loads unchanged, blank values and comments included", () => {
  const seedStyle = [
    `DISCORD_TOKEN=${TOKEN}`,
    "DISCORD_CLIENT_ID= # Application ID — Discord Developer Portal > General Information",
    "CHATWOOT_BASE_URL=https://app.chatwoot.com # no trailing slash",
    "CHATWOOT_ACCOUNT_ID=3",
    "CHATWOOT_API_TOKEN=abc123",
    "CHATWOOT_INBOX_ID=12",
    "WEBHOOK_PORT=3000",
    "WEBHOOK_SECRET= # Optional HMAC secret (leave blank if not using)",
    "BRAND_NAME=Support # Short name shown in every embed footer",
    "COLOR_PRIMARY=7BB8F5 # pastel blue — general/branded",
    "CONFIRM_EMOJI=✅",
    'SNOOZED_MESSAGE="Your ticket has been snoozed. We\'ll follow up with you soon."',
    "REOPEN_WINDOW_HOURS=0",
    "OUTSIDE_HOURS_BEHAVIOR=true",
  ].join("\n");
  const result = loadConfig(mergeDotEnv({}, seedStyle));
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  assert.equal(result.config.chatwootInboxId, 12);
  assert.equal(result.config.webhookSecret, undefined);
  assert.equal(result.config.discordApplicationId, "123456789012345678");
});

Deno.test(".env fills only what the environment leaves unset", () => {
  const merged = mergeDotEnv({ LOG_LEVEL: "warn" }, "LOG_LEVEL=debug\nKV_PATH=:memory:\n");
  assert.equal(merged.LOG_LEVEL, "warn");
  assert.equal(merged.KV_PATH, ":memory:");
});

Deno.test("the bot id is read from the token", () => {
  assert.equal(botIdFromToken(TOKEN), "123456789012345678");
  assert.equal(botIdFromToken("abc"), undefined);
  assert.equal(botIdFromToken(`${btoa("hello")}.a.b`), undefined);
});

Deno.test("branding, notices and plugins: seed names, defaults, and clear errors", () => {
  const ok = loadConfig({
    ...valid,
    COLOR_PRIMARY: "#112233",
    RESOLVED_MESSAGE: "",
    PRESENCE_POLL_INTERVAL_MS: "90000",
  });
  assert.ok(ok.ok);
  assert.equal(ok.config.branding.colors.primary, 0x112233);
  assert.equal(ok.config.branding.colors.success, 0x6fd8a0);
  assert.equal(ok.config.branding.footerText, "Support");
  assert.equal(ok.config.lifecycle.resolvedMessage, "", "blank switches the notice off");
  assert.equal(
    ok.config.lifecycle.snoozedMessage,
    "Your ticket has been snoozed. We'll follow up with you soon.",
  );
  assert.equal(ok.config.csat.buttonLabel, "⭐ Rate us");
  assert.equal(ok.config.plugins.singlty, undefined, "disabled without its variables");

  const bad = loadConfig({
    ...valid,
    COLOR_DANGER: "red",
    REOPEN_WINDOW_HOURS: "-1",
    CSAT_BUTTON_LABEL: "x".repeat(81),
    CONTACT_LOOKUP_URL: "https://users.example.com/lookup",
    CONTACT_LOOKUP_HEADER: "just-a-secret-value",
  });
  assert.ok(!bad.ok);
  for (
    const name of [
      "COLOR_DANGER",
      "REOPEN_WINDOW_HOURS",
      "CSAT_BUTTON_LABEL",
      "CONTACT_LOOKUP_URL",
      "CONTACT_LOOKUP_HEADER",
    ]
  ) {
    assert.ok(
      bad.problems.some((p) => p.startsWith(`${name} `)),
      `${name} not reported: ${bad.problems}`,
    );
  }
  assert.ok(!bad.problems.join("\n").includes("just-a-secret-value"));
});

Deno.test("on Deno Deploy the gateway is off and the app's own database is used, unless set", () => {
  const deploy = loadConfig({ ...valid, DENO_DEPLOYMENT_ID: "abc123" });
  assert.ok(deploy.ok);
  assert.equal(deploy.config.onDeploy, true);
  assert.equal(deploy.config.discordGateway, false);
  assert.equal(deploy.config.kvPath, "");
  const forced = loadConfig({
    ...valid,
    DENO_DEPLOYMENT_ID: "abc",
    DISCORD_GATEWAY: "true",
    KV_PATH: "https://kv.example/connect",
  });
  assert.ok(forced.ok);
  assert.equal(forced.config.discordGateway, true);
  assert.equal(forced.config.kvPath, "https://kv.example/connect");
  const local = loadConfig(valid);
  assert.ok(local.ok);
  assert.equal(local.config.discordGateway, true);
  assert.equal(local.config.ticketCommand, "support");
  const bad = loadConfig({ ...valid, DISCORD_PUBLIC_KEY: "xyz", TICKET_COMMAND: "Open Ticket!" });
  assert.ok(!bad.ok);
  assert.ok(bad.problems.some((p) => p.startsWith("DISCORD_PUBLIC_KEY ")));
  assert.ok(bad.problems.some((p) => p.startsWith("TICKET_COMMAND ")));
});
