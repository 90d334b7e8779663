/**
 * Where a command's configuration comes from: the process environment over
 * `./.env`. A bad configuration is printed (every problem, no secret) and
 * ends the process with exit code 2.
 */
import { type Config, loadConfig, mergeDotEnv, SECRET_VARIABLES } from "../config.ts";

export interface Environment {
  /** The process environment over `.env`'s values. */
  values: Record<string, string>;
  /** Whether `.env` exists in the working directory. */
  dotEnvFound: boolean;
}

export function readEnvironment(): Environment {
  let text: string | undefined;
  try {
    text = Deno.readTextFileSync(".env");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return { values: mergeDotEnv(Deno.env.toObject(), text ?? ""), dotEnvFound: text !== undefined };
}

export function workingDirectory(): string {
  try {
    return Deno.cwd();
  } catch {
    return "the working directory";
  }
}

export function loadConfigOrExit(environment: Environment = readEnvironment()): Config {
  const result = loadConfig(environment.values);
  if (result.ok) return result.config;
  console.error(`cordwoot: invalid configuration (${result.problems.length} problem(s)):`);
  for (const problem of result.problems) console.error(`  - ${problem}`);
  if (!environment.dotEnvFound) {
    console.error(`No .env in ${workingDirectory()}: only the process environment was read.`);
  }
  console.error(`Secret values (${[...SECRET_VARIABLES].join(", ")}) are never printed.`);
  Deno.exit(2);
}

/** Removes every secret value from a line meant for the terminal. */
export function redact(text: string, secrets: string[]): string {
  return secrets.filter((s) => s.length >= 4).reduce((t, s) => t.split(s).join("[redacted]"), text);
}
