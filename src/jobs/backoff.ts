/**
 * Delay before the next attempt at a mailbox that failed `attempts` times in a
 * row: 1 s doubling to a cap of 10 minutes, with ±20 % jitter so that many
 * mailboxes failing together do not retry in lockstep. An outage has no
 * attempt limit; an item failing by itself has (see mailbox.ts).
 */
export const RETRY_BASE_MS = 1_000;
export const RETRY_CAP_MS = 10 * 60_000;

export function retryDelayMs(attempts: number, random = Math.random): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const plain = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** exponent);
  return Math.round(plain * (0.8 + 0.4 * random()));
}
