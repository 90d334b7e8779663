/**
 * Start-up as an operator meets it: `main.ts serve` as a real process in a
 * fresh working directory. A start that cannot succeed as configured ends with
 * exit code 1 (systemd's Restart=on-failure acts) and one line naming the
 * variable and the fix; a missing webhook secret is a configuration error
 * (exit code 2) unless unsigned webhooks are allowed explicitly.
 */
import assert from "node:assert/strict";
import { type CordwootProcess, spawnCordwoot } from "./helpers/process.ts";
import { fakeEnv, startHarness } from "./helpers/harness.ts";
import { withFakes } from "./helpers/with_fakes.ts";

/** The process's result, or a failed assertion (and a killed process) if it runs on. */
async function ended(run: CordwootProcess, ms = 10_000) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ranOn = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill("SIGKILL");
      reject(new Error(`still running after ${ms} ms: it started instead of stopping`));
    }, ms);
  });
  try {
    return await Promise.race([run.result, ranOn]);
  } finally {
    clearTimeout(timer);
  }
}

/** The one `cordwoot: …` line, with no unhandled-rejection dump and no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.startsWith("cordwoot: "));
  assert.equal(lines.length, 1, stderr);
  assert.ok(!/unhandled rejection|Uncaught|\n\s+at /.test(stderr), stderr);
  return lines[0];
}

function assertNoSecret(text: string, env: Record<string, string>) {
  for (const name of ["DISCORD_TOKEN", "CHATWOOT_API_TOKEN", "WEBHOOK_SECRET"]) {
    assert.ok(!text.includes(env[name]), `${name} printed`);
  }
}

Deno.test("WEBHOOK_PORT in use: exit code 1 and one line naming the port and the fix", async () => {
  await withFakes(async (discord, chatwoot) => {
    const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (holder.addr as Deno.NetAddr).port;
    try {
      const env = fakeEnv(discord, chatwoot, { WEBHOOK_PORT: String(port) });
      const { code, stderr } = await ended(spawnCordwoot(["serve"], { env }));
      assert.equal(code, 1, stderr);
      assert.equal(
        oneLine(stderr),
        `cordwoot: WEBHOOK_PORT ${port} is already in use on 127.0.0.1: stop the other process or choose another port`,
      );
      assertNoSecret(stderr, env);
      assert.equal(discord.connectedSessions, 0, "the gateway was not started");
    } finally {
      holder.close();
    }
  });
});

Deno.test("KV_PATH under a file: exit code 1 and one line naming KV_PATH and the fix", async () => {
  await withFakes(async (discord, chatwoot) => {
    const cwd = Deno.makeTempDirSync();
    Deno.writeTextFileSync(`${cwd}/blocker`, "a file, not a folder");
    const env = fakeEnv(discord, chatwoot, { KV_PATH: "blocker/cordwoot.kv" });
    const { code, stderr } = await ended(spawnCordwoot(["serve"], { env, cwd }));
    assert.equal(code, 1, stderr);
    assert.equal(
      oneLine(stderr),
      "cordwoot: KV_PATH blocker/cordwoot.kv cannot be created: part of blocker is a file, not a folder: point KV_PATH at a file in a folder, e.g. ./data/cordwoot.kv",
    );
    assertNoSecret(stderr, env);
  });
});

Deno.test("KV_PATH a folder: exit code 1 and one line naming KV_PATH", async () => {
  await withFakes(async (discord, chatwoot) => {
    const cwd = Deno.makeTempDirSync();
    Deno.mkdirSync(`${cwd}/data/cordwoot.kv`, { recursive: true });
    const env = fakeEnv(discord, chatwoot, { KV_PATH: "data/cordwoot.kv" });
    const { code, stderr } = await ended(spawnCordwoot(["serve"], { env, cwd }));
    assert.equal(code, 1, stderr);
    assert.match(
      oneLine(stderr),
      /^cordwoot: KV_PATH data\/cordwoot\.kv cannot be opened \(.+\): point it at a database file this user can write/,
    );
  });
});

/** A KV Connect endpoint on 127.0.0.1 that refuses every token, recording what it was sent. */
function refusingKvConnect() {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("authorization")}`);
    return new Response("<html>denied</html>", { status: 401 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}/kv/connect`, seen, server };
}

Deno.test("a KV Connect URL without DENO_KV_ACCESS_TOKEN: exit code 1, nothing sent", async () => {
  await withFakes(async (discord, chatwoot) => {
    const kvConnect = refusingKvConnect();
    try {
      const env = fakeEnv(discord, chatwoot, { KV_PATH: kvConnect.url });
      const { code, stderr } = await ended(spawnCordwoot(["serve"], { env }));
      assert.equal(code, 1, stderr);
      assert.equal(
        oneLine(stderr),
        `cordwoot: KV_PATH is a KV Connect URL (${kvConnect.url}) but DENO_KV_ACCESS_TOKEN is not set: put the database's access token in DENO_KV_ACCESS_TOKEN (in .env or the environment)`,
      );
      assert.deepEqual(kvConnect.seen, []);
    } finally {
      await kvConnect.server.shutdown();
    }
  });
});

Deno.test("DENO_KV_ACCESS_TOKEN is read from .env; a refused token is exit code 1, never printed", async () => {
  await withFakes(async (discord, chatwoot) => {
    const kvConnect = refusingKvConnect();
    try {
      const cwd = Deno.makeTempDirSync();
      Deno.writeTextFileSync(`${cwd}/.env`, "DENO_KV_ACCESS_TOKEN=kv-token-from-dotenv-1234\n");
      const env = fakeEnv(discord, chatwoot, { KV_PATH: kvConnect.url });
      const { code, stderr, stdout } = await ended(spawnCordwoot(["serve"], { env, cwd }));
      assert.equal(code, 1, stderr);
      assert.deepEqual(kvConnect.seen, ["POST /kv/connect Bearer kv-token-from-dotenv-1234"]);
      assert.equal(
        oneLine(stderr),
        `cordwoot: the KV Connect server at KV_PATH ${kvConnect.url} refused DENO_KV_ACCESS_TOKEN (HTTP 401): copy the database's current access token into DENO_KV_ACCESS_TOKEN`,
      );
      assert.ok(!`${stdout}${stderr}`.includes("kv-token-from-dotenv"), "token printed");
      assert.ok(!stderr.includes("<html>"), "response body printed");
    } finally {
      await kvConnect.server.shutdown();
    }
  });
});

Deno.test("no WEBHOOK_SECRET: exit code 2 with where to find it, listed with the other problems", async () => {
  await withFakes(async (discord, chatwoot) => {
    const { WEBHOOK_SECRET: _, ...env } = fakeEnv(discord, chatwoot, { LOG_LEVEL: "loud" });
    const { code, stderr } = await ended(spawnCordwoot(["serve"], { env }));
    assert.equal(code, 2, stderr);
    assert.match(stderr, /invalid configuration \(2 problem\(s\)\)/);
    assert.match(stderr, /\n {2}- LOG_LEVEL expected debug, info, warn or error\n/);
    assert.match(
      stderr,
      /\n {2}- WEBHOOK_SECRET is required: .*Settings → Integrations → Webhooks → the webhook → its secret; Chatwoot 4\.12\+.*inbox's secret \(Chatwoot 4\.13\+\).*ALLOW_UNSIGNED_WEBHOOKS=true/,
    );
    assert.match(stderr, /No \.env in .*: only the process environment was read\./);
    assert.equal(discord.connectedSessions, 0);
  });
});

Deno.test("ALLOW_UNSIGNED_WEBHOOKS=true without a secret starts, with a warning at every start", async () => {
  for (let start = 1; start <= 2; start++) {
    await using h = await startHarness({ webhookSecret: null });
    assert.equal(h.config.allowUnsignedWebhooks, true);
    const warnings = h.logs.map((l) => JSON.parse(l)).filter((l) =>
      l.level === "warn" && /ALLOW_UNSIGNED_WEBHOOKS=true/.test(l.msg) &&
      /without a signature check/.test(l.msg)
    );
    assert.equal(warnings.length, 1, `start ${start}: ${h.logs.join("\n")}`);
  }
});

Deno.test("unset LOG_FORMAT: pretty lines on a terminal, JSON when standard error is not one", async () => {
  const script = (() => {
    try {
      return Deno.statSync("/usr/bin/script").isFile ? "/usr/bin/script" : undefined;
    } catch {
      return undefined;
    }
  })();
  await withFakes(async (discord, chatwoot) => {
    // The gateway refuses the token (4004) right after the HTTP server logged that it listens.
    discord.refuseIdentify = { code: 4004, reason: "refused by the fake" };
    const env = fakeEnv(discord, chatwoot);
    const piped = await ended(spawnCordwoot(["serve"], { env }));
    assert.match(piped.stderr, /^\{"time":"[^"]+","level":"info","msg":"http server listening"/m);
    if (!script) {
      console.log("startup_test: no util-linux `script`, terminal case skipped");
      return;
    }
    // util-linux `script` runs the command on a pseudo-terminal.
    const command = [
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      new URL("../main.ts", import.meta.url).pathname,
      "serve",
    ].join(" ");
    const onTerminal = await new Deno.Command(script, {
      args: ["-qec", command, "/dev/null"],
      env: { ...env, NO_COLOR: "1", TERM: "dumb" },
      clearEnv: true,
      cwd: Deno.makeTempDirSync(),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const seen = new TextDecoder().decode(onTerminal.stdout);
    assert.match(seen, /^\S+ INFO {2}http server listening host=127\.0\.0\.1 port=\d+/m, seen);
    assert.ok(!seen.includes('"level":"info"'), seen);
  });
});
