/** The periodic jobs and their cron schedules (presence's comes from PRESENCE_POLL_INTERVAL_MS). */
export const SCHEDULES = {
  "mailbox sweep": "* * * * *",
  "chatwoot health": "* * * * *",
  "reconcile": "*/5 * * * *",
  "presence": "*/5 * * * *",
} as const;
export type ScheduledJob = keyof typeof SCHEDULES;
