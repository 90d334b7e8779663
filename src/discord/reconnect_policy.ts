/**
 * When and how the gateway connection is tried again: pure rules, no I/O.
 *
 * Contracts:
 * - Every failure, whatever its kind, waits `backoffDelay` before the next
 *   attempt: 1 s doubling to 60 s, ±20 % jitter (defaults). Only a session
 *   that stayed up `stableAfterMs` resets the count, so a connection that
 *   flaps right after READY keeps backing off.
 * - Close codes Discord will not let us recover from end the bridge
 *   (FATAL_CLOSE_CODES); the others are resumed or re-identified.
 * - IDENTIFYs respect Discord's `session_start_limit`: none while the daily
 *   budget is spent, at most `max_concurrency` per `identifyWindowMs`.
 */
import { FATAL_CLOSE_CODES } from "./fatal_close.ts";

export interface GatewayTimings {
  /** Delay before the first retry; doubles with each failed attempt in a row. */
  baseDelayMs: number;
  /** The delay never grows past this (before jitter). */
  maxDelayMs: number;
  /** Each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
  /** A session that stayed up this long resets the backoff to `baseDelayMs`. */
  stableAfterMs: number;
  /** From opening the socket to READY/RESUMED; longer counts as a failed attempt. */
  handshakeTimeoutMs: number;
  /** A socket we close must report closed within this; otherwise it is abandoned. */
  closeTimeoutMs: number;
  /** Discord allows `max_concurrency` IDENTIFYs per this window (5 s). */
  identifyWindowMs: number;
}

export const DEFAULT_GATEWAY_TIMINGS: GatewayTimings = {
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  jitter: 0.2,
  stableAfterMs: 60_000,
  handshakeTimeoutMs: 30_000,
  closeTimeoutMs: 5_000,
  identifyWindowMs: 5_000,
};

/** The wait before attempt number `failures + 1`, after `failures` (≥ 1) failed in a row. */
export function backoffDelay(
  failures: number,
  timings: Pick<GatewayTimings, "baseDelayMs" | "maxDelayMs" | "jitter">,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30);
  const capped = Math.min(timings.maxDelayMs, timings.baseDelayMs * 2 ** exponent);
  return Math.round(capped * (1 + timings.jitter * (2 * random() - 1)));
}

/**
 * After an INVALID_SESSION Discord asks for a random wait of 1–5 s before
 * identifying again; scaled with `baseDelayMs` so tests can shrink it.
 */
export function invalidSessionDelay(
  timings: Pick<GatewayTimings, "baseDelayMs">,
  random: () => number = Math.random,
): number {
  return Math.round(timings.baseDelayMs * (1 + 4 * random()));
}

export type CloseAction = "fatal" | "resume" | "identify";

/** What a close code from Discord (or from the network) asks of the next attempt. */
export function closeAction(code: number): CloseAction {
  if (code in FATAL_CLOSE_CODES) return "fatal";
  // 4003 not authenticated, 4007 invalid seq, 4009 session timed out: the session is gone.
  if (code === 4003 || code === 4007 || code === 4009) return "identify";
  return "resume";
}

export interface SessionStartLimit {
  remaining: number;
  resetAfter: number;
  maxConcurrency: number;
}

/**
 * Milliseconds to wait before the next IDENTIFY may go out: until the daily
 * budget resets when it is spent, and until the concurrency window allows one.
 */
export function identifyWait(
  limit: SessionStartLimit,
  lastIdentifyAt: number | undefined,
  now: number,
  identifyWindowMs: number,
): number {
  if (limit.remaining <= 0) return Math.max(0, limit.resetAfter);
  if (lastIdentifyAt === undefined) return 0;
  const spacing = identifyWindowMs / Math.max(1, limit.maxConcurrency);
  return Math.max(0, lastIdentifyAt + spacing - now);
}
