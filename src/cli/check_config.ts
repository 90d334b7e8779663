/**
 * `cordwoot check-config`: validates the environment (done by the caller),
 * then checks every dependency for real and prints a checklist with the fix
 * for each failure. Exit code: 0 all good, 1 something to fix.
 *
 * Contract: it always ends, within about `timeoutMs` per check; a check passes
 * only on an answer of the expected shape (a server answering 404 to
 * everything is not "Chatwoot"); each cause is one clean line (never a stack
 * trace or a response body beyond the service's own short error text), and
 * secret values are never printed.
 */
import type { Config } from "../config.ts";
import { boundedGet } from "./check_answer.ts";
import { checkChatwoot } from "./check_chatwoot.ts";
import { checkDiscord } from "./check_discord.ts";
import { checkKv, checkPort } from "./check_local.ts";

export interface CheckOptions {
  fetch?: typeof fetch;
  out?: (line: string) => void;
  /** The longest any one check may take (a request, opening KV); 10 s by default. */
  timeoutMs?: number;
  /** Whether `.env` was found in the working directory (a note is printed when it was not). */
  dotEnv?: { found: boolean; directory: string };
}

const DEFAULT_TIMEOUT_MS = 10_000;

export async function checkConfig(config: Config, options: CheckOptions = {}): Promise<number> {
  const out = options.out ?? console.log;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? fetch;
  const get = boundedGet(doFetch, timeoutMs);
  if (options.dotEnv && !options.dotEnv.found) {
    out(
      `! no .env in ${options.dotEnv.directory}: only the process environment was read ` +
        "(copy .env.example to .env there, or run cordwoot from the folder that holds it)",
    );
  }
  const checks = [
    ...await checkDiscord(config, get),
    ...await checkChatwoot(config, doFetch, timeoutMs),
    checkPort(config),
    await checkKv(config, timeoutMs),
  ];
  for (const c of checks) {
    out(`${c.ok ? "✔" : "✘"} ${c.label} — ${c.detail}`);
    if (!c.ok && c.fix) out(`    fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  out(`\n${checks.length - failed} checks passed, ${failed} failed`);
  return failed ? 1 : 0;
}
