/** The command line: every subcommand with its usage text, and `--help`/`--version`. */
import { startBridge } from "../app/start_bridge.ts";
import { describeError } from "../bridge/errors.ts";
import { SECRET_VARIABLES } from "../config.ts";
import { registerCommands } from "../discord/commands.ts";
import { StartupFailure } from "../startup_failure.ts";
import { openKv } from "../store/open_kv.ts";
import { VERSION } from "../version.ts";
import { checkConfig } from "./check_config.ts";
import { DEAD_LETTERS_USAGE, parseDeadLettersArgs, runDeadLetters } from "./dead_letters.ts";
import { runDemo } from "./demo.ts";
import { loadConfigOrExit, readEnvironment, redact, workingDirectory } from "./environment.ts";
import { serve } from "./serve.ts";
/**
 * A subcommand. `cordwoot <name> --help` (or `-h`) prints `usage` and runs
 * nothing; arguments after the name reach `run` only when `takesArguments`
 * (otherwise they are a usage error, exit code 2).
 */
interface Subcommand {
  /** One line in the command list of `cordwoot --help`. */
  summary: string;
  /** The whole text of `cordwoot <name> --help`. */
  usage: string;
  takesArguments?: boolean;
  run(args: string[]): Promise<number>;
}

const CONFIGURATION_NOTE =
  `Configuration comes from the environment and from ./.env (variables already
set in the environment win). See README.md (Configuration) for every variable.`;

const COMMANDS: Record<string, Subcommand> = {
  serve: {
    summary: "run the bridge (the default)",
    usage: `Usage: cordwoot serve

Runs the bridge until SIGINT or SIGTERM: the Discord gateway, the HTTP server
on WEBHOOK_HOST:WEBHOOK_PORT (/webhook, /interactions, /healthz, /metrics) and
the delivery of every waiting message.

${CONFIGURATION_NOTE}

Exit codes: 0 stopped cleanly, 1 a fatal error (e.g. Discord refused the token,
WEBHOOK_PORT in use, KV_PATH unusable; one line names the variable and the
fix), 2 invalid configuration (every problem is listed).`,
    run: () => serve(),
  },
  "register-commands": {
    summary: "register the bot's slash commands with Discord",
    usage: `Usage: cordwoot register-commands

Replaces the application's global slash commands with cordwoot's (the ticket
command TICKET_COMMAND, /status, /close, /reopen, /help). Safe to run again:
once after installing, and after upgrades that add commands.

${CONFIGURATION_NOTE}

Exit codes: 0 registered, 1 Discord refused, 2 invalid configuration.`,
    run: async () => await registerCommands(loadConfigOrExit()),
  },
  "check-config": {
    summary: "check the configuration and every dependency, with fixes",
    usage: `Usage: cordwoot check-config

Checks the configuration, then every dependency for real: the Discord token,
application and slash commands; Chatwoot's address, token, inbox, webhook and
its secret; that WEBHOOK_PORT can be bound on WEBHOOK_HOST; that KV_PATH opens.
Prints one line per check and the fix for each failure. Every check gives up
after 10 s.

${CONFIGURATION_NOTE}

Exit codes: 0 every check passed, 1 something to fix, 2 invalid configuration.`,
    run: async () => {
      const environment = readEnvironment();
      return await checkConfig(loadConfigOrExit(environment), {
        dotEnv: { found: environment.dotEnvFound, directory: workingDirectory() },
      });
    },
  },
  demo: {
    summary: "watch the bridge work against built-in fakes (no accounts)",
    usage: `Usage: cordwoot demo

Runs the real bridge against a built-in fake Discord and fake Chatwoot and
prints a whole ticket as it plays out. Needs no account and no configuration.`,
    run: () => runDemo(startBridge),
  },
  "dead-letters": {
    summary: "list, retry or drop messages that failed for good",
    usage: `${DEAD_LETTERS_USAGE}

${CONFIGURATION_NOTE} It opens KV_PATH (a running bridge may keep running).`,
    takesArguments: true,
    run: async (args) => {
      const command = parseDeadLettersArgs(args);
      if (typeof command === "string") {
        console.error(`cordwoot dead-letters: ${command}\n\n${DEAD_LETTERS_USAGE}`);
        return 2;
      }
      const config = loadConfigOrExit();
      const kv = await openKv(config.kvPath, config.kvAccessToken);
      try {
        return await runDeadLetters(kv, command);
      } finally {
        kv.close();
      }
    },
  },
  // More subcommands go here, each with its usage text; one that takes arguments
  // sets takesArguments and reads them in run(args).
};

const HELP = `cordwoot ${VERSION} — Discord ↔ Chatwoot support bridge

Usage: cordwoot [command] [--help]

Commands:
${
  Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(20)}${command.summary}`)
    .join("\n")
}
  --version           print the version
  --help              print this help; \`cordwoot <command> --help\` explains one command

${CONFIGURATION_NOTE}

Exit codes: 0 stopped cleanly (or all checks passed), 1 fatal runtime error
(e.g. Discord refused the token) or a failed check, 2 invalid configuration
or command line.`;

/** Runs `cordwoot <args>`; returns the exit code. */
export async function runCommandLine(args: string[]): Promise<number> {
  const [name = "serve", ...rest] = args;
  if (name === "--version" || name === "version") {
    console.log(`cordwoot ${VERSION}`);
    return 0;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const about = Object.hasOwn(COMMANDS, rest[0] ?? "") ? COMMANDS[rest[0]] : undefined;
    console.log(about?.usage ?? HELP);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(`cordwoot: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.usage);
    return 0;
  }
  if (!command.takesArguments && rest.length > 0) {
    console.error(`cordwoot ${name}: unexpected argument "${rest[0]}"\n\n${command.usage}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    // Whatever a command did not explain itself: one line, exit code 1, secrets removed.
    let values: Record<string, string>;
    try {
      values = readEnvironment().values; // .env's secrets too
    } catch {
      values = Deno.env.toObject();
    }
    const secrets = [...SECRET_VARIABLES].map((v) => values[v] ?? "");
    const line = error instanceof StartupFailure ? error.message : describeError(error);
    console.error(`cordwoot: ${name} failed: ${redact(line, secrets)}`);
    return 1;
  }
}
