/**
 * The single binary: `deno task compile` must build with KV and cron enabled
 * and narrowed permissions. The build uses `DENORT_BIN` pointing at the
 * installed `deno` (no download needed); such an output cannot run as
 * cordwoot, so running the binary is tested only when a real `denort` is
 * available (CORDWOOT_DENORT, or Deno's download cache).
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { FakeChatwoot } from "../src/fakes/fake_chatwoot.ts";
import { FakeDiscord } from "../src/fakes/fake_discord.ts";
import { fakeEnv } from "./helpers/harness.ts";

const REPO = new URL("../", import.meta.url).pathname;

/** The compile task's own arguments, with the output redirected. */
function compileArgs(output: string): string[] {
  const args = denoJson.tasks.compile.command.split(/\s+/).slice(1);
  const at = args.indexOf("--output");
  args[at + 1] = output;
  return args;
}

/**
 * Builds as the compile task does, except that the type check is skipped: `deno task check`
 * checks the types, and here the check would take longer than the build.
 */
async function compile(output: string, denort: string) {
  const [subcommand, ...rest] = compileArgs(output);
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [subcommand, "--no-check", ...rest],
    cwd: REPO,
    env: { DENORT_BIN: denort, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/**
 * The binary's metadata, which `deno compile` writes as JSON after the runtime: a window
 * around its `"permissions":` key (decoding the whole 100 MB binary as text takes seconds).
 */
function metadataText(binary: Uint8Array): string {
  const key = new TextEncoder().encode('"permissions":');
  let at = binary.indexOf(key[0]);
  while (at !== -1 && !key.every((byte, i) => binary[at + i] === byte)) {
    at = binary.indexOf(key[0], at + 1);
  }
  assert.ok(at !== -1, "no permissions in the binary");
  return new TextDecoder("latin1").decode(binary.subarray(Math.max(0, at - 4096), at + 65536));
}

function realDenort(): string | undefined {
  const given = Deno.env.get("CORDWOOT_DENORT");
  if (given) return given;
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const version = Deno.version.deno;
  const zip = `${denoDir}/dl/release/v${version}/denort-x86_64-unknown-linux-gnu.zip`;
  try {
    Deno.statSync(zip);
    return zip;
  } catch {
    return undefined;
  }
}

Deno.test("deno task compile builds the binary with kv and cron and narrowed permissions", async () => {
  const output = `${Deno.makeTempDirSync()}/cordwoot`;
  const built = await compile(output, Deno.execPath());
  assert.equal(built.code, 0, built.stderr);
  const text = metadataText(Deno.readFileSync(output));
  assert.match(text, /"features":\["kv","cron"\]/);
  const permissions = JSON.parse(/"permissions":(\{[^}]*\})/.exec(text)![1]);
  assert.deepEqual(permissions.allow_read, [".env", "data"], "reads only .env and the KV folder");
  assert.deepEqual(permissions.allow_write, ["data"], "writes only the KV folder");
  assert.deepEqual(permissions.allow_net, [], "network: all hosts (Chatwoot's is configurable)");
  assert.deepEqual(permissions.allow_env, [], "environment");
  for (const denied of ["allow_run", "allow_ffi", "allow_sys"]) {
    assert.equal(permissions[denied], null, `${denied} is not granted`);
  }
  assert.ok(!/"allow_all":true/.test(text), "not -A");
  assert.match(text, /"env_vars_from_env_file":\{\}/, "no .env embedded");
});

const denort = realDenort();
if (!denort) {
  console.log(
    "compile_test: skipping the run of the compiled binary: no real denort " +
      "(set CORDWOOT_DENORT, or let `deno compile` cache one where the network allows)",
  );
}

Deno.test({
  name: "the compiled binary answers --version and check-config (needs a real denort)",
  ignore: denort === undefined,
}, async () => {
  const output = `${Deno.makeTempDirSync()}/cordwoot`;
  const built = await compile(output, denort!);
  assert.equal(built.code, 0, built.stderr);
  const version = await new Deno.Command(output, { args: ["--version"], stdout: "piped" }).output();
  assert.match(
    new TextDecoder().decode(version.stdout),
    new RegExp(`cordwoot ${denoJson.version}`),
  );
  const discord = FakeDiscord.start();
  const chatwoot = FakeChatwoot.start({ webhookSecret: "compile-test-secret" });
  try {
    const check = await new Deno.Command(output, {
      args: ["check-config"],
      env: fakeEnv(discord, chatwoot),
      clearEnv: true,
      cwd: Deno.makeTempDirSync(),
      stdout: "piped",
    }).output();
    assert.match(new TextDecoder().decode(check.stdout), /checks passed, \d+ failed/);
  } finally {
    await discord.close();
    await chatwoot.close();
  }
});

Deno.test("the permissions the binary gets are enough to run it (checked with deno run)", async () => {
  const args = compileArgs("unused").filter((a) => a.startsWith("--allow-"));
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", `${REPO}deno.json`, ...args, `${REPO}main.ts`, "demo"],
    cwd: Deno.makeTempDirSync(),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(new TextDecoder().decode(stdout), /CSAT response recorded: 5\/5/);
});
