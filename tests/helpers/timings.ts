/**
 * Production's Chatwoot probe (2 s) and mailbox retry backoff (1 s doubling to a
 * 10 min cap) divided by 10, for tests that wait on an outage or a retry: every
 * ratio is kept, so a 2 s outage here stands for a 20 s one in production.
 */
export const TENTH_TIMINGS = {
  probeMs: 200,
  retryDelayMs: (attempts: number) => Math.min(60_000, 100 * 2 ** Math.max(attempts - 1, 0)),
};
