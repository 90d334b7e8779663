import assert from "node:assert/strict";
import { checkConfig } from "../src/cli/check_config.ts";
import { loadConfig } from "../src/config.ts";
import { fakeToken } from "../src/fakes/fake_discord.ts";
import { fakeEnv } from "./helpers/harness.ts";
import { withFakes } from "./helpers/with_fakes.ts";
import { freePort, spawnCordwoot } from "./helpers/process.ts";

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
    // Run in a folder without .env (as here), it says so; with one, it does not.
    assert.match(stdout, /^! no \.env in \S+: only the process environment was read/m);
    const cwd = Deno.makeTempDirSync();
    Deno.writeTextFileSync(`${cwd}/.env`, "LOG_LEVEL=info\n");
    const withDotEnv = await spawnCordwoot(["check-config"], { env, cwd }).result;
    assert.equal(withDotEnv.code, 0, withDotEnv.stdout);
    assert.doesNotMatch(withDotEnv.stdout, /no \.env/);
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

Deno.test("--help on a subcommand prints its usage and runs nothing", async () => {
  await withFakes(async (discord, chatwoot) => {
    const env = fakeEnv(discord, chatwoot, { WEBHOOK_PORT: String(freePort()) });
    const cases = [
      [["check-config", "--help"], /^Usage: cordwoot check-config\n/],
      [["serve", "--help"], /^Usage: cordwoot serve\n/],
      [["register-commands", "-h"], /^Usage: cordwoot register-commands\n/],
    ] as const;
    await Promise.all(cases.map(async ([args, usage]) => {
      const run = spawnCordwoot([...args], { env });
      const guard = setTimeout(() => run.child.kill("SIGKILL"), 10_000);
      const { code, stdout } = await run.result;
      clearTimeout(guard);
      assert.equal(code, 0, `${args.join(" ")} did not end on its own`);
      assert.match(stdout, usage);
    }));
    assert.deepEqual(discord.requests, [], "nothing was sent to Discord");
    assert.equal(discord.connectedSessions, 0);
    assert.deepEqual(chatwoot.calls, [], "nothing was sent to Chatwoot");
    const extra = await spawnCordwoot(["check-config", "now"], { env }).result;
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /cordwoot check-config: unexpected argument "now"/);
  });
});

/** Resolves with `promise`, or fails the test after `ms` (the old code hung here). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} still running after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A configuration whose Discord and Chatwoot are both `base` (a local test server). */
function configAt(base: string, extra: Record<string, string> = {}) {
  const token = fakeToken("123456789012345678", "x");
  const loaded = loadConfig({
    DISCORD_TOKEN: token,
    DISCORD_API_URL: `${base}/api`,
    CHATWOOT_BASE_URL: base,
    CHATWOOT_ACCOUNT_ID: "1",
    CHATWOOT_API_TOKEN: "cw-secret-token-value",
    CHATWOOT_INBOX_ID: "7",
    WEBHOOK_SECRET: "webhook-secret-value",
    WEBHOOK_HOST: "127.0.0.1",
    WEBHOOK_PORT: "0",
    KV_PATH: ":memory:",
    ...extra,
  });
  if (!loaded.ok) throw new Error(loaded.problems.join("; "));
  return loaded.config;
}

async function runChecks(config: ReturnType<typeof configAt>, timeoutMs: number) {
  const lines: string[] = [];
  const code = await within(
    checkConfig(config, { timeoutMs, out: (line) => lines.push(line) }),
    5_000,
    "check-config",
  );
  const output = lines.join("\n");
  assert.ok(!output.includes(config.discordToken), "Discord token printed");
  assert.ok(!output.includes(config.chatwootApiToken), "Chatwoot token printed");
  assert.ok(!/\n\s+at |<html|<body/i.test(output), `stack trace or body printed:\n${output}`);
  return { code, output };
}

Deno.test("check-config against a server that never answers: every check times out, cleanly", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn); // read nothing, answer nothing
  })();
  try {
    const base = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    const started = performance.now();
    const { code, output } = await runChecks(configAt(base), 150);
    assert.ok(performance.now() - started < 3_000, "ended within a few timeouts");
    assert.equal(code, 1);
    assert.match(
      output,
      new RegExp(`^✘ Discord API — cannot reach ${base}/api: no answer within 150 ms$`, "m"),
    );
    assert.match(
      output,
      new RegExp(`^✘ Chatwoot reachable — cannot reach ${base}: no answer within 150 ms$`, "m"),
    );
    assert.doesNotMatch(output, /✔ (Discord token|Chatwoot reachable|Chatwoot token)/);
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("check-config against a server answering 404 to everything: nothing passes falsely", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname}`);
    return new Response(
      "<html><body><h1>404 Not Found</h1>\n<pre>at Router.handle</pre></body></html>",
      {
        status: 404,
        headers: { "content-type": "text/html; charset=utf-8" },
      },
    );
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const { code, output } = await runChecks(configAt(base), 2_000);
    assert.equal(code, 1);
    assert.ok(seen.length >= 2, "both were asked");
    assert.match(
      output,
      new RegExp(
        `^✘ Discord API — ${base}/api answered HTTP 404 \\(text/html\\) to GET /applications/@me, not Discord's application object$`,
        "m",
      ),
    );
    assert.match(
      output,
      new RegExp(
        `^✘ Chatwoot reachable — ${base} answered HTTP 404 \\(text/html\\) to GET /api/v1/accounts/1/inboxes/7, which is not a Chatwoot API answer$`,
        "m",
      ),
    );
    assert.doesNotMatch(
      output,
      /✔ (Discord token|Chatwoot reachable|Chatwoot token|Chatwoot inbox)/,
    );
    // A JSON 404 that is not Chatwoot's own "Resource could not be found" counts no more.
    const json = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => Response.json({ status: 404, error: "Not Found" }, { status: 404 }),
    );
    try {
      const other = await runChecks(configAt(`http://127.0.0.1:${json.addr.port}`), 2_000);
      assert.doesNotMatch(other.output, /✔ Chatwoot (reachable|token)/);
      assert.match(other.output, /✘ Chatwoot reachable — .* answered HTTP 404: "Not Found"/);
    } finally {
      await json.shutdown();
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("check-config checks that WEBHOOK_PORT can be bound and KV_PATH opened", async () => {
  await withFakes(async (discord, chatwoot) => {
    const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (holder.addr as Deno.NetAddr).port;
    const dir = Deno.makeTempDirSync();
    Deno.writeTextFileSync(`${dir}/blocker`, "a file");
    try {
      const loaded = loadConfig(fakeEnv(discord, chatwoot, {
        WEBHOOK_PORT: String(port),
        KV_PATH: `${dir}/blocker/cordwoot.kv`,
      }));
      assert.ok(loaded.ok);
      const lines: string[] = [];
      const code = await within(
        checkConfig(loaded.config, { timeoutMs: 2_000, out: (l) => lines.push(l) }),
        5_000,
        "check-config",
      );
      const output = lines.join("\n");
      assert.equal(code, 1);
      assert.match(
        output,
        new RegExp(
          `✘ Webhook port — WEBHOOK_PORT ${port} is already in use on 127\\.0\\.0\\.1\n {4}fix: stop the other process`,
        ),
      );
      assert.match(
        output,
        /✘ KV database — KV_PATH \S+\/blocker\/cordwoot\.kv cannot be created: part of \S+\/blocker is a file, not a folder\n {4}fix: point KV_PATH at a file in a folder/,
      );
      holder.close();
      const fine = loadConfig(fakeEnv(discord, chatwoot, {
        WEBHOOK_PORT: String(port),
        KV_PATH: `${dir}/data/cordwoot.kv`,
      }));
      assert.ok(fine.ok);
      lines.length = 0;
      await checkConfig(fine.config, { timeoutMs: 2_000, out: (l) => lines.push(l) });
      assert.match(
        lines.join("\n"),
        new RegExp(`✔ Webhook port — 127\\.0\\.0\\.1:${port} is free`),
      );
      assert.match(lines.join("\n"), /✔ KV database — \S+\/data\/cordwoot\.kv opens/);
    } finally {
      try {
        holder.close();
      } catch {
        // already closed
      }
    }
  });
});

Deno.test("check-config with FALLBACK_CHANNEL_ID: the Message Content intent and the channel are checked", async () => {
  await withFakes(async (discord, chatwoot) => {
    const env = fakeEnv(discord, chatwoot, { FALLBACK_CHANNEL_ID: discord.fallbackChannelId });
    const off = await spawnCordwoot(["check-config"], { env }).result;
    assert.match(
      off.stdout,
      /✘ Gateway intents — FALLBACK_CHANNEL_ID needs the Message Content intent/,
    );
    assert.match(off.stdout, /✔ Fallback channel — /);
    discord.applicationFlags = 1 << 19;
    const wrong = fakeEnv(discord, chatwoot, { FALLBACK_CHANNEL_ID: "123456789012345678" });
    const bad = await spawnCordwoot(["check-config"], { env: wrong }).result;
    assert.match(bad.stdout, /✔ Gateway intents — Message Content is enabled/);
    assert.match(bad.stdout, /✘ Fallback channel — cannot read channel 123456789012345678/);
  });
});
