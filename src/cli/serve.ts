/** `cordwoot serve`: runs the bridge until a signal or a fatal error. */
import { loggerFor, secretsOf } from "../app/logger.ts";
import { type BridgeOptions, type RunningBridge, startBridge } from "../app/start_bridge.ts";
import { describeError } from "../bridge/errors.ts";
import { bindFailure, StartupFailure } from "../startup_failure.ts";
import { loadConfigOrExit, redact } from "./environment.ts";

let running: RunningBridge | undefined;

/** The bridge `serve` started in this process (Deno Deploy's top-level crons call into it). */
export function runningBridge(): RunningBridge | undefined {
  return running;
}

/**
 * `options.timings` are for tests that run this command as a process (see
 * tests/helpers/serve_short_leases.ts); the command line never passes any.
 */
export async function serve(options: Pick<BridgeOptions, "timings"> = {}): Promise<number> {
  const config = loadConfigOrExit();
  const log = loggerFor(config);
  let fatalSeen = false;
  // Discordeno throws from inside its socket close handler after a fatal close (explained by
  // then); anything else unhandled is logged rather than crashing the bridge.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    (fatalSeen ? log.debug : log.error)("unhandled rejection", {
      error: describeError(event.reason),
    });
  });
  let bridge: RunningBridge;
  try {
    bridge = await startBridge(config, { log, timings: options.timings });
  } catch (error) {
    // A start that cannot succeed as configured: one line and exit code 1, never a stack trace.
    const failure = error instanceof StartupFailure
      ? error
      : bindFailure(error, config.webhookHost, config.webhookPort);
    const line = failure?.message ?? `start-up failed: ${describeError(error)}`;
    console.error(`cordwoot: ${redact(line, secretsOf(config))}`);
    return 1;
  }
  running = bridge;
  bridge.fatal.then(() => fatalSeen = true);
  const signalled = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => signalled.resolve(name);
  Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
  const ended = await Promise.race([
    signalled.promise.then((name) => ({ fatal: false, message: `received ${name}` })),
    bridge.fatal.then((message) => ({ fatal: true, message })),
  ]);
  if (ended.fatal) console.error(`cordwoot: ${ended.message}`);
  else log.info("shutting down", { reason: ended.message });
  await bridge.stop();
  return ended.fatal ? 1 : 0;
}
