import assert from "node:assert/strict";
import { fakeToken } from "../src/fakes/fake_discord.ts";
import { fakeEnv } from "./helpers/harness.ts";
import { withFakes } from "./helpers/with_fakes.ts";
import { spawnCordwoot } from "./helpers/process.ts";

Deno.test("a bad configuration exits with status 2 and names every bad variable, no secret", async () => {
  const run = spawnCordwoot([], {
    env: {
      DISCORD_TOKEN: "super-secret-but-malformed",
      CHATWOOT_BASE_URL: "not a url",
      CHATWOOT_ACCOUNT_ID: "one",
      CHATWOOT_API_TOKEN: "",
      WEBHOOK_PORT: "http",
    },
  });
  const { code, stderr } = await run.result;
  assert.equal(code, 2);
  for (
    const name of [
      "DISCORD_TOKEN",
      "CHATWOOT_BASE_URL",
      "CHATWOOT_ACCOUNT_ID",
      "CHATWOOT_API_TOKEN",
      "CHATWOOT_INBOX_ID",
      "WEBHOOK_PORT",
    ]
  ) {
    assert.match(stderr, new RegExp(`- ${name} `), `${name} missing from:\n${stderr}`);
  }
  assert.ok(!stderr.includes("super-secret"), "the token value was printed");
  assert.ok(!stderr.includes("at "), "no stack trace");
});

for (
  const [code, expected] of [
    [4004, "Discord rejected the bot token (4004"],
    [4014, "Discord refused the requested intents (4014"],
  ] as const
) {
  Deno.test(`gateway close ${code} ends the process with one explanatory line and exit code 1`, async () => {
    await withFakes(async (discord, chatwoot) => {
      discord.refuseIdentify = { code, reason: "refused by the fake" };
      const run = spawnCordwoot([], { env: fakeEnv(discord, chatwoot) });
      const { code: exit, stderr } = await run.result;
      assert.equal(exit, 1, stderr);
      const lines = stderr.split("\n").filter((l) => l.startsWith("cordwoot: "));
      assert.equal(lines.length, 1, stderr);
      assert.ok(lines[0].includes(expected), lines[0]);
      assert.ok(!stderr.includes("Uncaught"), "no unhandled-rejection dump");
      assert.ok(!stderr.includes(discord.token), "token printed");
    });
  });
}

Deno.test("a token Discord refuses over REST ends the process with exit code 1", async () => {
  await withFakes(async (discord, chatwoot) => {
    const env = fakeEnv(discord, chatwoot, { DISCORD_TOKEN: fakeToken(discord.botId, "wrong") });
    const { code, stderr } = await spawnCordwoot([], { env }).result;
    assert.equal(code, 1, stderr);
    assert.match(stderr, /cordwoot: Discord rejected the bot token/);
  });
});

Deno.test("reads .env from the working directory, the environment wins, and SIGTERM stops cleanly", async () => {
  await withFakes(async (discord, chatwoot) => {
    const cwd = Deno.makeTempDirSync();
    const kvPath = `${cwd}/state/cordwoot.kv`;
    const env = fakeEnv(discord, chatwoot, { KV_PATH: kvPath, LOG_LEVEL: "info" });
    // The API token and the inbox come only from .env; its LOG_LEVEL is invalid and must lose.
    Deno.writeTextFileSync(
      `${cwd}/.env`,
      `CHATWOOT_API_TOKEN=${env.CHATWOOT_API_TOKEN}\nCHATWOOT_INBOX_ID=${env.CHATWOOT_INBOX_ID}\nLOG_LEVEL=loud\n`,
    );
    delete (env as Record<string, string>).CHATWOOT_API_TOKEN;
    delete (env as Record<string, string>).CHATWOOT_INBOX_ID;
    const run = spawnCordwoot([], { env, cwd });
    await run.waitForLog("discord gateway ready");
    const dm = discord.sendDm({ userId: "777777777777777771", content: "from a real process" });
    await chatwoot.waitFor(
      () => chatwoot.messages.find((m) => m.source_id === dm.messageId),
      "the DM in Chatwoot",
      10_000,
    );
    run.child.kill("SIGTERM");
    const { code, stderr } = await run.result;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /"msg":"stopped"/);
    assert.ok(Deno.statSync(kvPath).isFile, "KV folder created");
    await discord.waitFor(() => discord.connectedSessions === 0, "the gateway to be closed");
  });
});

Deno.test("register-commands syncs the command list and explains a refused token", async () => {
  await withFakes(async (discord, chatwoot) => {
    const ok = await spawnCordwoot(["register-commands"], { env: fakeEnv(discord, chatwoot) })
      .result;
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Registered 5 global command\(s\) for application/);
    for (const name of ["support", "status", "close", "reopen", "help"]) {
      assert.match(ok.stdout, new RegExp(`/${name} — `));
    }
    const put = discord.requestsTo("PUT", /^\/applications\/\d+\/commands$/);
    assert.equal(put.length, 1);
    const sent = put[0].body as {
      name: string;
      contexts: number[];
      integration_types: number[];
      options: unknown[];
    }[];
    assert.deepEqual(
      sent.map((c) => [c.name, c.contexts]),
      [
        ["support", [0, 1, 2]],
        ["status", [0, 1, 2]],
        ["close", [0, 1, 2]],
        ["reopen", [0, 1, 2]],
        ["help", [0, 1, 2]],
      ],
      "every command in servers, the bot's DMs and other DMs",
    );
    assert.ok(
      sent.every((c) => JSON.stringify(c.integration_types) === "[0,1]"),
      "every command for both guild and user installs",
    );
    assert.match(JSON.stringify(sent.find((c) => c.name === "close")), /"name":"reason"/);
    // Running it again changes nothing: the same list replaces the same list.
    const twice = await spawnCordwoot(["register-commands"], { env: fakeEnv(discord, chatwoot) })
      .result;
    assert.equal(twice.code, 0);
    assert.equal(discord.registeredCommands.length, 5);

    const env = fakeEnv(discord, chatwoot, { DISCORD_TOKEN: fakeToken(discord.botId, "wrong") });
    const bad = await spawnCordwoot(["register-commands"], { env }).result;
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /Discord rejected the bot token \(HTTP 401\): check DISCORD_TOKEN/);
  });
});

Deno.test("--version and --help answer without configuration", async () => {
  const version = await spawnCordwoot(["--version"], { env: {} }).result;
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^cordwoot \d+\.\d+\.\d+/);
  const help = await spawnCordwoot(["--help"], { env: {} }).result;
  assert.equal(help.code, 0);
  assert.match(help.stdout, /register-commands/);
});
