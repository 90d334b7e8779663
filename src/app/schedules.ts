/**
 * The periodic jobs and their cron schedules. Outside Deno Deploy they are
 * registered here when the bridge starts; on Deploy, crons only run when
 * declared at a module's top level, so main.ts declares them and calls
 * `runScheduled` on the running bridge.
 */
import { presenceCronSchedule } from "../discord/presence.ts";

export type ScheduledJob =
  | "mailbox sweep"
  | "chatwoot health"
  | "reconcile"
  | "presence"
  | "nudge stale tickets";

/**
 * The jobs with a fixed schedule; also those Deno Deploy runs (HTTP only there:
 * no gateway, so no presence to keep). Presence's schedule comes from
 * PRESENCE_POLL_INTERVAL_MS.
 */
export const DEPLOY_JOBS: readonly { job: Exclude<ScheduledJob, "presence">; schedule: string }[] =
  [
    { job: "mailbox sweep", schedule: "* * * * *" },
    { job: "chatwoot health", schedule: "* * * * *" },
    { job: "reconcile", schedule: "*/5 * * * *" },
    // Does nothing unless NUDGE_AFTER_HOURS is set.
    { job: "nudge stale tickets", schedule: "*/10 * * * *" },
  ];

export type ScheduledJobs = Record<ScheduledJob, () => Promise<unknown>>;

/** Registers every job's cron (until `signal` aborts). */
export function registerCrons(
  jobs: ScheduledJobs,
  options: { presencePollMs: number; signal: AbortSignal },
): void {
  const all = [
    ...DEPLOY_JOBS,
    { job: "presence" as const, schedule: presenceCronSchedule(options.presencePollMs) },
  ];
  for (const { job, schedule } of all) {
    Deno.cron(`cordwoot ${job}`, schedule, { signal: options.signal }, async () => {
      await jobs[job]();
    });
  }
}
