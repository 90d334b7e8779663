/**
 * One gateway connection, from the attempt to its end: GET /gateway/bot and
 * Discord's identify limits (for an IDENTIFY), the socket, HELLO, the one
 * IDENTIFY or RESUME, the wait for READY/RESUMED, then the session until it
 * fails (gateway_supervisor.ts runs these one after another).
 *
 * Contracts:
 * - `connect(mode, signal)` resolves once the connection is over, with an
 *   `Outcome`: stopped (`signal` aborted), fatal (a fatal close code, or the
 *   token refused over REST), or failed, with a one-line cause and how to try
 *   next (resume or identify, and any minimum delay Discord asks for).
 * - A connection that does not reach READY/RESUMED within
 *   `handshakeTimeoutMs` (an upgrade never answered, a silent socket) has
 *   failed; one whose heartbeats go unacknowledged (a zombie) is closed and
 *   resumed. After a failed RESUME that Discord answered, the next try
 *   identifies rather than resume forever.
 * - It keeps the supervisor's status up to date: attempts, connecting,
 *   waiting (for the identify limit), ready and since when.
 */
import {
  type GatewayManager,
  type RestManager,
  ShardSocketCloseCodes,
  ShardState,
} from "@discordeno/bot";
import type { Logger } from "../bridge/ports.ts";
import { toDiscordError } from "./errors.ts";
import { explainFatalClose } from "./fatal_close.ts";
import type { Mode, SupervisedShard } from "./gateway_shard.ts";
import {
  closeAction,
  type GatewayTimings,
  identifyWait,
  invalidSessionDelay,
} from "./reconnect_policy.ts";

export type Outcome =
  | { kind: "stopped" }
  | { kind: "fatal"; explanation: string }
  | { kind: "failed"; cause: string; next: Mode; minDelayMs?: number; upMs?: number };

/** The part of the supervisor's GatewayStatus a connection keeps up to date (meanings there). */
export interface ConnectionStatus {
  phase: "idle" | "connecting" | "ready" | "waiting" | "failed";
  attempts: number;
  nextAttemptAt: string | null;
  readySince: string | null;
}

export interface GatewayConnector {
  /** One connection: opens, identifies or resumes, and lasts until it fails. */
  connect(mode: Mode, signal: AbortSignal): Promise<Outcome>;
}

export function gatewayConnector(options: {
  bot: { gateway: GatewayManager; rest: Pick<RestManager, "getSessionInfo"> };
  link: SupervisedShard;
  log: Logger;
  timings: GatewayTimings;
  random: () => number;
  state: ConnectionStatus;
}): GatewayConnector {
  const { bot, link, log, timings, random, state } = options;
  const { shard } = link;
  const gateway = bot.gateway;
  let lastIdentifyAt: number | undefined;

  /** GET /gateway/bot, then wait until Discord's identify limits allow one more IDENTIFY. */
  const prepareIdentify = async (abort: AbortSignal): Promise<Outcome | undefined> => {
    let info: Awaited<ReturnType<typeof bot.rest.getSessionInfo>>;
    try {
      info = await untilAborted(bot.rest.getSessionInfo(), abort, timings);
    } catch (error) {
      if (abort.aborted) return { kind: "stopped" };
      const failure = toDiscordError(error, "gateway lookup (GET /gateway/bot)");
      if (failure.status === 401) {
        return {
          kind: "fatal",
          explanation: "Discord rejected the bot token (HTTP 401): check DISCORD_TOKEN",
        };
      }
      return { kind: "failed", cause: failure.message, next: "identify" };
    }
    gateway.connection = info;
    shard.connection.url = info.url;
    const limit = info.sessionStartLimit;
    const waitMs = identifyWait(limit, lastIdentifyAt, Date.now(), timings.identifyWindowMs);
    if (waitMs > 0) {
      const fields = { waitMs, remaining: limit.remaining, total: limit.total };
      if (limit.remaining <= 0) {
        log.warn("discord identify budget used up; waiting for it to reset", fields);
      } else log.debug("waiting for discord's identify rate limit", fields);
      state.phase = "waiting";
      state.nextAttemptAt = new Date(Date.now() + waitMs).toISOString();
      await abortableSleep(waitMs, abort);
      state.nextAttemptAt = null;
      if (abort.aborted) return { kind: "stopped" };
    }
    return undefined;
  };

  const connect = async (mode: Mode, abort: AbortSignal): Promise<Outcome> => {
    state.attempts++;
    if (mode === "identify") {
      const notReady = await prepareIdentify(abort);
      if (notReady) return notReady;
    }
    if (abort.aborted) return { kind: "stopped" };
    const gen = link.beginAttempt();
    state.phase = "connecting";
    log.debug("discord gateway connecting", { attempt: state.attempts, mode });
    // Sends queued while offline belong to failed attempts; presence is set again on READY.
    shard.offlineSendQueue.length = 0;
    if (mode === "identify") {
      lastIdentifyAt = Date.now();
      shard.sessionId = undefined;
      shard.resumeGatewayUrl = "";
      shard.previousSequenceNumber = null;
      shard.state = ShardState.Identifying;
    } else {
      shard.state = ShardState.Resuming;
    }
    link.openAndGreet(gen, mode).catch((error) =>
      log.debug("discord gateway handshake failed", { error: String(error) })
    );
    const timer = setTimeout(
      () => link.report(gen, { type: "timeout" }),
      timings.handshakeTimeoutMs,
    );
    let opened = false;
    let hello = false;
    let readyAt: number | undefined;
    try {
      for (;;) {
        const signal = await link.nextSignal();
        const upMs = readyAt === undefined ? undefined : Date.now() - readyAt;
        // After a failed RESUME that Discord answered, identify rather than resume forever.
        const retryAs = (wanted: Mode): Mode =>
          wanted === "resume" && shard.sessionId && !(mode === "resume" && opened && !readyAt)
            ? "resume"
            : "identify";
        switch (signal.type) {
          case "open":
            opened = true;
            break;
          case "hello":
            hello = true;
            break;
          case "established":
            if (readyAt !== undefined) break;
            clearTimeout(timer);
            readyAt = Date.now();
            state.phase = "ready";
            state.attempts = 0;
            state.readySince = new Date(readyAt).toISOString();
            if (signal.resumed) log.info("discord gateway resumed");
            break;
          case "stop":
            await link.closeSocket(ShardSocketCloseCodes.Shutdown, "shutting down");
            return { kind: "stopped" };
          case "timeout":
            await link.closeSocket(ShardSocketCloseCodes.ZombiedConnection, "handshake timed out");
            return {
              kind: "failed",
              cause: opened
                ? `no ${
                  mode === "resume" ? "RESUMED" : "READY"
                } within ${timings.handshakeTimeoutMs} ms`
                : `the gateway did not answer within ${timings.handshakeTimeoutMs} ms`,
              next: retryAs(mode),
            };
          case "closed": {
            if (closeAction(signal.code) === "fatal") {
              return { kind: "fatal", explanation: explainFatalClose(signal.code, signal.reason) };
            }
            const reason = signal.reason ? `: ${signal.reason.slice(0, 160)}` : "";
            const when = readyAt !== undefined
              ? "after READY"
              : hello
              ? "after HELLO, before READY"
              : "before HELLO";
            return {
              kind: "failed",
              cause: opened
                ? `connection closed ${when} (code ${signal.code}${reason})`
                : `could not connect${reason || ` (code ${signal.code})`}`,
              next: retryAs(closeAction(signal.code) === "resume" ? "resume" : "identify"),
              upMs,
            };
          }
          case "invalidSession":
            await link.closeSocket(4900, "invalid session");
            if (!signal.resumable) shard.sessionId = undefined;
            return {
              kind: "failed",
              cause: `Discord invalidated the session (resumable: ${signal.resumable})`,
              next: signal.resumable && readyAt !== undefined ? retryAs("resume") : "identify",
              minDelayMs: invalidSessionDelay(timings, random),
              upMs,
            };
          case "reconnectRequested":
            await link.closeSocket(4901, "reconnect requested");
            return {
              kind: "failed",
              cause: "Discord asked for a reconnect (op 7)",
              next: retryAs("resume"),
              upMs,
            };
          case "zombie":
            await link.closeSocket(ShardSocketCloseCodes.ZombiedConnection, "no heartbeat ACK");
            return {
              kind: "failed",
              cause: "no heartbeat ACK: the connection went silent",
              next: retryAs("resume"),
              upMs,
            };
        }
      }
    } finally {
      clearTimeout(timer);
      link.endAttempt(); // late signals from this socket are ignored from now on
      state.readySince = null;
      if (state.phase === "ready") state.phase = "connecting";
    }
  };

  return { connect };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Rejects when `signal` aborts or after the handshake timeout, whichever is first. */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  timings: Pick<GatewayTimings, "handshakeTimeoutMs">,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer within ${timings.handshakeTimeoutMs} ms`)),
      timings.handshakeTimeoutMs,
    );
    const onAbort = () => reject(new Error("stopped"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
  });
}
