/**
 * cordwoot's entry point: the command line (see src/cli/commands.ts) and, on
 * Deno Deploy, the top-level crons. The wiring itself is src/app/start_bridge.ts.
 */
import { DEPLOY_JOBS } from "./src/app/schedules.ts";
import { runCommandLine } from "./src/cli/commands.ts";
import { runningBridge } from "./src/cli/serve.ts";

export { type BridgeOptions, type RunningBridge, startBridge } from "./src/app/start_bridge.ts";
export { VERSION } from "./src/version.ts";

/**
 * Deno Deploy only runs crons declared at the module's top level (nested ones
 * are ignored there), so on Deploy they are declared here and call into the
 * running bridge.
 */
if (Deno.env.get("DENO_DEPLOYMENT_ID")) {
  for (const { job, schedule } of DEPLOY_JOBS) {
    Deno.cron(`cordwoot ${job}`, schedule, async () => {
      await runningBridge()?.runScheduled(job);
    });
  }
}

if (import.meta.main) {
  Deno.exit(await runCommandLine(Deno.args));
}
