import assert from "node:assert/strict";
import {
  botIdFromToken,
  CONFIG_VARIABLES,
  loadConfig,
  mergeDotEnv,
  SECRET_VARIABLES,
} from "../src/config.ts";

const TOKEN = `${btoa("123456789012345678")}.Gabcde.secret-part-of-the-token`;
const valid = {
  DISCORD_TOKEN: TOKEN,
  CHATWOOT_BASE_URL: "https://chat.example.com/",
  CHATWOOT_ACCOUNT_ID: "1",
  CHATWOOT_API_TOKEN: "cw-token-value",
  CHATWOOT_INBOX_ID: "7",
  WEBHOOK_SECRET: "webhook-secret-value",
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
  assert.equal(c.webhookSecret, "webhook-secret-value");
  assert.equal(c.allowUnsignedWebhooks, false);
  assert.equal(c.kvPath, "./data/cordwoot.kv");
  assert.equal(c.confirmEmoji, "✅");
  assert.equal(c.logLevel, "info");
  assert.equal(c.logFormat, undefined, "unset: pretty on a terminal, JSON otherwise");
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
      "WEBHOOK_SECRET",
    ]
  ) {
    assert.ok(result.problems.some((p) => p.startsWith(`${name} `)), `${name} not reported`);
  }
  assert.equal(result.problems.length, 6, "each missing variable once");
});

Deno.test("no WEBHOOK_SECRET is refused with where to find it, unless unsigned webhooks are allowed", () => {
  const { WEBHOOK_SECRET: _, ...unsigned } = valid;
  for (const blank of [undefined, "", "   "]) {
    const refused = loadConfig({ ...unsigned, WEBHOOK_SECRET: blank });
    assert.ok(!refused.ok);
    assert.equal(refused.problems.length, 1, JSON.stringify(refused.problems));
    const [problem] = refused.problems;
    assert.match(problem, /^WEBHOOK_SECRET is required/);
    assert.match(problem, /Settings → Integrations → Webhooks → the webhook → its secret/);
    assert.match(problem, /Chatwoot 4\.12\+/);
    assert.match(problem, /inbox's secret \(Chatwoot 4\.13\+\)/);
    assert.match(problem, /ALLOW_UNSIGNED_WEBHOOKS=true/);
  }
  assert.ok(!loadConfig({ ...unsigned, ALLOW_UNSIGNED_WEBHOOKS: "false" }).ok);
  const allowed = loadConfig({ ...unsigned, ALLOW_UNSIGNED_WEBHOOKS: "true" });
  assert.ok(allowed.ok, JSON.stringify(!allowed.ok && allowed.problems));
  assert.equal(allowed.config.webhookSecret, undefined);
  assert.equal(allowed.config.allowUnsignedWebhooks, true);
  // Listed with every other problem, not instead of them.
  const both = loadConfig({ ...unsigned, CHATWOOT_INBOX_ID: "x" });
  assert.ok(!both.ok);
  assert.deepEqual(both.problems.map((p) => p.split(" ")[0]), [
    "CHATWOOT_INBOX_ID",
    "WEBHOOK_SECRET",
  ]);
});

Deno.test("DISCORD_TOKEN: a `Bot ` prefix is named as such, and a missing token is reported once", () => {
  const prefixed = loadConfig({ ...valid, DISCORD_TOKEN: `Bot ${TOKEN}` });
  assert.ok(!prefixed.ok);
  assert.deepEqual(prefixed.problems, [
    "DISCORD_TOKEN starts with `Bot `: remove the `Bot ` prefix (the variable holds only the token itself)",
  ]);
  assert.ok(!prefixed.problems.join().includes("secret-part-of-the-token"));
  for (const missing of [undefined, "", "  "]) {
    const result = loadConfig({ ...valid, DISCORD_TOKEN: missing });
    assert.ok(!result.ok);
    const about = result.problems.filter((p) => p.startsWith("DISCORD_TOKEN "));
    assert.deepEqual(about, [
      "DISCORD_TOKEN is required: the bot token from Discord Developer Portal > Bot > Token",
    ]);
  }
});

Deno.test("DENO_KV_ACCESS_TOKEN is read like every other variable (so from .env too) and is secret", () => {
  const result = loadConfig(
    mergeDotEnv({}, "KV_PATH=https://kv.example/connect\nDENO_KV_ACCESS_TOKEN=kv-token-123\n"),
  );
  assert.ok(!result.ok, "still needs the required variables");
  const loaded = loadConfig({
    ...valid,
    ...mergeDotEnv({}, "KV_PATH=https://kv.example/connect\nDENO_KV_ACCESS_TOKEN=kv-token-123\n"),
  });
  assert.ok(loaded.ok);
  assert.equal(loaded.config.kvAccessToken, "kv-token-123");
  assert.ok(SECRET_VARIABLES.has("DENO_KV_ACCESS_TOKEN"));
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
  // Its blank WEBHOOK_SECRET is the one thing refused now (closed by default)…
  const refused = loadConfig(mergeDotEnv({}, seedStyle));
  assert.ok(!refused.ok);
  assert.deepEqual(refused.problems.map((p) => p.split(" ")[0]), ["WEBHOOK_SECRET"]);
  // …and with an explicit opt-in everything else loads as it did.
  const result = loadConfig(mergeDotEnv({}, `${seedStyle}\nALLOW_UNSIGNED_WEBHOOKS=true`));
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

const EXAMPLE = Deno.readTextFileSync(new URL("../.env.example", import.meta.url));
const README = Deno.readTextFileSync(new URL("../README.md", import.meta.url));

Deno.test(".env.example and the README list every variable cordwoot reads", () => {
  assert.ok(CONFIG_VARIABLES.length >= 60, `only ${CONFIG_VARIABLES.length} variables?`);
  assert.ok(CONFIG_VARIABLES.includes("DENO_KV_ACCESS_TOKEN"));
  for (const name of CONFIG_VARIABLES) {
    assert.match(EXAMPLE, new RegExp(`^(# )?${name}=`, "m"), `${name} missing from .env.example`);
    assert.ok(README.includes(`\`${name}\``), `${name} missing from README.md`);
  }
  // Each entry has its one-line comment right above it.
  const lines = EXAMPLE.split("\n");
  for (const [i, line] of lines.entries()) {
    if (/^[A-Z_]+=/.test(line)) {
      assert.match(lines[i - 1] ?? "", /^# \S/, `no comment above ${line}`);
    }
  }
});

Deno.test(".env.example holds the defaults: filled in with the required values it loads like no .env", () => {
  const required = {
    DISCORD_TOKEN: TOKEN,
    CHATWOOT_BASE_URL: "https://chat.example.com",
    CHATWOOT_ACCOUNT_ID: "1",
    CHATWOOT_API_TOKEN: "cw-token-value",
    CHATWOOT_INBOX_ID: "7",
    WEBHOOK_SECRET: "webhook-secret-value",
  };
  const copied = loadConfig(mergeDotEnv({}, EXAMPLE));
  assert.ok(!copied.ok);
  assert.deepEqual(
    copied.problems.map((p) => p.split(" ")[0]).sort(),
    Object.keys(required).sort(),
    "a fresh copy lacks only the required values",
  );
  const fromExample = loadConfig(mergeDotEnv(required, EXAMPLE));
  const fromNothing = loadConfig(required);
  assert.ok(fromExample.ok && fromNothing.ok);
  assert.deepEqual(fromExample.config, fromNothing.config);
});

Deno.test("TICKET_TOPICS: emoji Discord can show are taken; anything else names the variable and what is expected", () => {
  for (
    const emoji of [
      "💳",
      "🐞",
      "👍🏽",
      "🇺🇸",
      "1️⃣",
      "👩‍💻",
      "<:billing:123456789012345678>",
      "<a:spin:123456789012345678>",
    ]
  ) {
    const result = loadConfig({ ...valid, TICKET_TOPICS: JSON.stringify([{ label: "A", emoji }]) });
    assert.ok(result.ok, `${emoji}: ${!result.ok && result.problems.join("; ")}`);
  }
  for (const bad of [":credit_card:", "billing", "💳 billing", "<:x:1>"]) {
    const result = loadConfig({
      ...valid,
      TICKET_TOPICS: JSON.stringify([{ label: "A", emoji: bad }]),
    });
    assert.ok(!result.ok, bad);
    assert.match(result.problems.join("\n"), /TICKET_TOPICS.*emoji/);
  }
  const broken = loadConfig({ ...valid, TICKET_TOPICS: "[{label:" });
  assert.ok(!broken.ok);
  assert.match(broken.problems.join("\n"), /TICKET_TOPICS.*JSON array of topics/);
});

Deno.test("TICKET_TOPICS: every problem at once, topics counted from 1 with their label; FALLBACK_CHANNEL_ID needs the gateway", () => {
  const result = loadConfig({
    ...valid,
    TICKET_TOPICS: JSON.stringify([
      { label: "Billing", team: "2", team_id: 3 },
      { label: "Bugs", labels: ["a b"], priority: "top" },
    ]),
    TOPIC_TIMEOUT_MINUTES: "100000",
  });
  assert.ok(!result.ok);
  const text = result.problems.join("\n");
  assert.match(text, /TICKET_TOPICS topic 1 \("Billing"\): team: a Chatwoot team id/);
  assert.match(text, /topic 1 \("Billing"\): unknown key "team_id" \(allowed: label/);
  assert.match(text, /topic 2 \("Bugs"\): labels: no spaces or commas/);
  assert.match(text, /topic 2 \("Bugs"\): priority: low, medium, high or urgent/);
  assert.match(text, /TOPIC_TIMEOUT_MINUTES at most 1440/);
  assert.ok(loadConfig({ ...valid, TICKET_TOPICS: "[]" }).ok, "an empty list is off");

  const noGateway = loadConfig({
    ...valid,
    FALLBACK_CHANNEL_ID: "123456789012345678",
    DISCORD_GATEWAY: "false",
  });
  assert.ok(!noGateway.ok);
  assert.match(noGateway.problems.join("\n"), /FALLBACK_CHANNEL_ID needs the Discord gateway/);
});
