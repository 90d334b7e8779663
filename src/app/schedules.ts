/**
 * The periodic jobs and their cron schedules. Outside Deno Deploy they are
 * registered here when the bridge starts; on Deploy, crons only run when
 * declared at a module's top level, so main.ts declares them and calls
 * `runScheduled` on the running bridge.
 */
import { presenceCronSchedule } from "../discord/presence.ts";

export type ScheduledJob = "mailbox sweep" | "chatwoot health" | "reconcile" | "presence";

/** Presence's schedule comes from PRESENCE_POLL_INTERVAL_MS. */
export const SCHEDULES: Readonly<Record<ScheduledJob, string>> = {
  "mailbox sweep": "* * * * *",
  "chatwoot health": "* * * * *",
  "reconcile": "*/5 * * * *",
  "presence": "*/5 * * * *",
};
const JOBS: readonly ScheduledJob[] = ["mailbox sweep", "chatwoot health", "reconcile", "presence"];

export type ScheduledJobs = Record<ScheduledJob, () => Promise<unknown>>;

/** Registers every job's cron (until `signal` aborts). */
export function registerCrons(
  jobs: ScheduledJobs,
  options: { presencePollMs: number; signal: AbortSignal },
): void {
  for (const job of JOBS) {
    const schedule = job === "presence"
      ? presenceCronSchedule(options.presencePollMs)
      : SCHEDULES[job];
    Deno.cron(`cordwoot ${job}`, schedule, { signal: options.signal }, async () => {
      await jobs[job]();
    });
  }
}
