/**
 * Keeps the bot's one gateway shard connected. It replaces Discordeno's own
 * reconnection, which retries with no delay at all (thousands of upgrade
 * attempts per second against a Discord answering 503) and waits forever on a
 * connection that never opens.
 *
 * Discordeno's shard still handles the socket, heartbeats and the dispatch to
 * the bot's handlers. This module decides when a connection is tried and when
 * to give up for good; gateway_connection.ts runs one connection (handshake
 * through failure) and gateway_shard.ts turns the shard's socket into signals
 * and sends the one IDENTIFY or RESUME of each connection itself (Discordeno's
 * queued sends would replay the IDENTIFYs of failed attempts on the next
 * socket).
 *
 * Contracts:
 * - start() returns at once; attempts go on in the background, without limit,
 *   spaced by reconnect_policy.ts, until stop() or a fatal failure.
 * - Every failed attempt is logged once (attempt number, cause, delay; never
 *   the token) and shown by status().
 * - A fatal close code (4004, 4010–4014) or a token refused over REST calls
 *   `onFatal` once with a one-line explanation; nothing is tried after that.
 * - An attempt that does not reach READY/RESUMED within `handshakeTimeoutMs`
 *   (an upgrade never answered, a silent socket) has failed; a session whose
 *   heartbeats go unacknowledged (a zombie) is closed and resumed.
 */
import { type GatewayManager, type RestManager, ShardState } from "@discordeno/bot";
import type { Logger } from "../bridge/ports.ts";
import { abortableSleep, gatewayConnector } from "./gateway_connection.ts";
import { createSupervisedShard, type Mode } from "./gateway_shard.ts";
import { backoffDelay, DEFAULT_GATEWAY_TIMINGS, type GatewayTimings } from "./reconnect_policy.ts";

export interface GatewayStatus {
  /** idle: not started or stopped; waiting: between attempts; failed: fatal, given up. */
  phase: "idle" | "connecting" | "ready" | "waiting" | "failed";
  /** Connection attempts since the gateway was last ready (0 while it is ready). */
  attempts: number;
  /** Why the last attempt or session failed (kept after recovery), with its time. */
  lastError: string | null;
  lastErrorAt: string | null;
  /** When the next attempt starts, while waiting. */
  nextAttemptAt: string | null;
  /** Since when the current session is ready. */
  readySince: string | null;
}

export interface GatewaySupervisor {
  /** Starts connecting in the background (no-op while running). */
  start(): void;
  /** Closes the connection and stops trying; start() may be called again. */
  stop(): Promise<void>;
  status(): GatewayStatus;
}

export function superviseGateway(options: {
  bot: { gateway: GatewayManager; rest: Pick<RestManager, "getSessionInfo"> };
  log: Logger;
  timings?: Partial<GatewayTimings>;
  onFatal(explanation: string): void;
  random?: () => number;
}): GatewaySupervisor {
  const { bot, log } = options;
  const timings = { ...DEFAULT_GATEWAY_TIMINGS, ...options.timings };
  const random = options.random ?? Math.random;
  const link = createSupervisedShard(bot.gateway, { log, timings });
  const shard = link.shard;

  const state: GatewayStatus = {
    phase: "idle",
    attempts: 0,
    lastError: null,
    lastErrorAt: null,
    nextAttemptAt: null,
    readySince: null,
  };
  const connector = gatewayConnector({ bot, link, log, timings, random, state });
  let running: Promise<void> | undefined;
  let abort = new AbortController();
  let fatal = false;

  const run = async () => {
    let failures = 0;
    let mode: Mode = "identify";
    while (!abort.signal.aborted) {
      const outcome = await connector.connect(mode, abort.signal);
      if (outcome.kind === "stopped") return;
      if (outcome.kind === "fatal") {
        fatal = true;
        shard.state = ShardState.Offline;
        state.phase = "failed";
        state.lastError = outcome.explanation;
        state.lastErrorAt = new Date().toISOString();
        log.error("discord gateway failed for good", { error: outcome.explanation });
        options.onFatal(outcome.explanation);
        return;
      }
      if ((outcome.upMs ?? 0) >= timings.stableAfterMs) failures = 0;
      failures++;
      mode = outcome.next;
      const delay = Math.max(backoffDelay(failures, timings, random), outcome.minDelayMs ?? 0);
      state.phase = "waiting";
      state.lastError = outcome.cause;
      state.lastErrorAt = new Date().toISOString();
      state.nextAttemptAt = new Date(Date.now() + delay).toISOString();
      log.warn(
        outcome.upMs === undefined
          ? "discord gateway connection failed; retrying"
          : "discord gateway connection lost; reconnecting",
        { attempt: state.attempts + 1, retryInMs: delay, cause: outcome.cause, mode },
      );
      await abortableSleep(delay, abort.signal);
      state.nextAttemptAt = null;
    }
  };

  return {
    start() {
      if (running || fatal) return;
      abort = new AbortController();
      running = run().catch((error) => {
        log.error("discord gateway supervisor crashed", { error: String(error) });
      }).finally(() => {
        running = undefined;
        if (state.phase !== "failed") state.phase = "idle";
        state.nextAttemptAt = null;
      });
    },
    async stop() {
      abort.abort();
      link.reportToCurrent({ type: "stop" });
      await running;
      // A deliberate stop ends the session: the next start identifies afresh.
      shard.sessionId = undefined;
    },
    status: () => ({ ...state }),
  };
}
