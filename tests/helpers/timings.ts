import {
  DEFAULT_GATEWAY_TIMINGS,
  type GatewayTimings,
} from "../../src/discord/reconnect_policy.ts";

/**
 * Production's Chatwoot probe (2 s) and mailbox retry backoff (1 s doubling to a
 * 10 min cap) divided by 10, for tests that wait on an outage or a retry: every
 * ratio is kept, so a 2 s outage here stands for a 20 s one in production.
 */
export const TENTH_TIMINGS = {
  probeMs: 200,
  retryDelayMs: (attempts: number) => Math.min(60_000, 100 * 2 ** Math.max(attempts - 1, 0)),
};

/** The gateway's reconnection timings divided by 200: 5 ms doubling to 300 ms, ±20 %. */
export const FAST_GATEWAY_TIMINGS: Partial<GatewayTimings> = {
  baseDelayMs: DEFAULT_GATEWAY_TIMINGS.baseDelayMs / 200,
  maxDelayMs: DEFAULT_GATEWAY_TIMINGS.maxDelayMs / 200,
  stableAfterMs: DEFAULT_GATEWAY_TIMINGS.stableAfterMs / 200,
  identifyWindowMs: DEFAULT_GATEWAY_TIMINGS.identifyWindowMs / 200,
  // Not scaled: a loaded CI machine may need a moment to open a local socket.
  handshakeTimeoutMs: 2_000,
  closeTimeoutMs: 1_000,
};
