/**
 * Keeps the bot's one gateway shard connected. It replaces Discordeno's own
 * reconnection, which retries with no delay at all (thousands of upgrade
 * attempts per second against a Discord answering 503) and waits forever on a
 * connection that never opens.
 *
 * Discordeno's shard still handles the socket, heartbeats and the dispatch to
 * the bot's handlers. This module decides when a connection is tried, sends
 * the one IDENTIFY or RESUME of each connection itself (Discordeno's queued
 * sends would replay the IDENTIFYs of failed attempts on the next socket),
 * and decides when to give up for good.
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
import {
  DiscordenoShard,
  type GatewayManager,
  type RestManager,
  ShardSocketCloseCodes,
  ShardState,
} from "@discordeno/bot";
import type { Logger } from "../bridge/ports.ts";
import { toDiscordError } from "./errors.ts";
import { explainFatalClose } from "./fatal_close.ts";
import {
  backoffDelay,
  closeAction,
  DEFAULT_GATEWAY_TIMINGS,
  type GatewayTimings,
  identifyWait,
  invalidSessionDelay,
} from "./reconnect_policy.ts";

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

type Mode = "identify" | "resume";

/** What one socket (or one GET /gateway/bot) told us. */
type Signal =
  | { type: "open" }
  | { type: "hello" }
  | { type: "established"; resumed: boolean }
  | { type: "closed"; code: number; reason: string }
  | { type: "invalidSession"; resumable: boolean }
  | { type: "reconnectRequested" }
  | { type: "zombie" }
  | { type: "timeout" }
  | { type: "stop" };

type Outcome =
  | { kind: "stopped" }
  | { kind: "fatal"; explanation: string }
  | { kind: "failed"; cause: string; next: Mode; minDelayMs?: number; upMs?: number };

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
  const gateway = bot.gateway;
  const shard = createShard(gateway);

  const state: GatewayStatus = {
    phase: "idle",
    attempts: 0,
    lastError: null,
    lastErrorAt: null,
    nextAttemptAt: null,
    readySince: null,
  };
  let running: Promise<void> | undefined;
  let abort = new AbortController();
  let fatal = false;
  let lastIdentifyAt: number | undefined;

  // ---- signals from the shard, tagged with the attempt they belong to
  let generation = 0;
  let inbox: Signal[] = [];
  let wake: (() => void) | undefined;
  const report = (gen: number, signal: Signal) => {
    if (gen !== generation) return; // a socket we already gave up on
    inbox.push(signal);
    wake?.();
  };
  const nextSignal = async (): Promise<Signal> => {
    for (;;) {
      const next = inbox.shift();
      if (next) {
        wake = undefined;
        return next;
      }
      await new Promise<void>((resolve) => wake = resolve);
    }
  };
  const closeWaiters = new WeakMap<WebSocket, () => void>();
  let socketError = "";

  // ---- Discordeno's shard, with its own reconnection switched off
  const connect = DiscordenoShard.prototype.connect;
  const handlePacket = DiscordenoShard.prototype.handleDiscordPacket;
  const closeShard = DiscordenoShard.prototype.close;
  shard.connect = function () {
    const gen = generation;
    const opened = connect.call(shard);
    // The socket exists once connect() returns (no compression: nothing is awaited before it).
    const socket = shard.socket;
    if (socket) {
      socket.onerror = (event) => {
        socketError = event instanceof ErrorEvent ? event.message : "";
      };
      socket.onclose = (event) => {
        if (shard.socket === socket) {
          shard.socket = undefined;
          shard.stopHeartbeating();
          if (shard.state !== ShardState.Offline) shard.state = ShardState.Disconnected;
        }
        shard.resolveAfterClose?.(event);
        closeWaiters.get(socket)?.();
        report(gen, { type: "closed", code: event.code, reason: event.reason || socketError });
      };
    }
    opened.then(() => report(gen, { type: "open" }), () => {});
    return opened;
  };
  // Discordeno calls these on close codes, INVALID_SESSION, op 7 and missed heartbeat ACKs:
  // those all reach this supervisor as signals instead, and it alone reconnects.
  shard.identify = () => Promise.resolve();
  shard.resume = () => Promise.resolve();
  shard.requestIdentify = () => Promise.resolve();
  shard.handleClose = () => Promise.resolve();
  shard.close = function (code, reason) {
    if (code === ShardSocketCloseCodes.ZombiedConnection) {
      report(generation, { type: "zombie" });
      return Promise.resolve();
    }
    return closeShard.call(shard, code, reason);
  };
  shard.handleDiscordPacket = async function (packet) {
    const gen = generation;
    if (packet.op === 9) {
      report(gen, { type: "invalidSession", resumable: packet.d === true });
      return;
    }
    if (packet.op === 7) {
      report(gen, { type: "reconnectRequested" });
      return;
    }
    if (packet.op === 10) report(gen, { type: "hello" });
    await handlePacket.call(shard, packet);
    if (packet.t === "READY" || packet.t === "RESUMED") {
      report(gen, { type: "established", resumed: packet.t === "RESUMED" });
    }
  };

  /** Closes the current socket; one that never reports closed is abandoned. */
  const closeSocket = async (code: number, reason: string) => {
    const socket = shard.socket;
    if (!socket) return;
    shard.stopHeartbeating();
    if (socket.readyState === WebSocket.CLOSED) {
      shard.socket = undefined;
      return;
    }
    const closed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timings.closeTimeoutMs);
      closeWaiters.set(socket, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    try {
      socket.close(code, reason);
    } catch { /* already closing */ }
    if (!await closed) {
      log.warn("discord gateway socket did not close in time; abandoned", {
        waitedMs: timings.closeTimeoutMs,
      });
      socket.onclose = socket.onmessage = socket.onerror = null;
      if (shard.socket === socket) shard.socket = undefined;
    }
    if (shard.state !== ShardState.Offline) shard.state = ShardState.Disconnected;
  };

  /** Opens the socket, then sends this connection's IDENTIFY or RESUME (Discord's op 2 / op 6). */
  const openAndGreet = async (gen: number, mode: Mode) => {
    await shard.connect();
    const socket = shard.socket;
    if (gen !== generation || socket?.readyState !== WebSocket.OPEN) return;
    const config = shard.connection;
    const token = `Bot ${config.token}`;
    const greeting = mode === "identify"
      ? {
        op: 2,
        d: {
          token,
          compress: config.compress,
          properties: config.properties,
          intents: config.intents,
          shard: [shard.id, config.totalShards],
          presence: await shard.makePresence(),
        },
      }
      : {
        op: 6,
        d: { token, session_id: shard.sessionId, seq: shard.previousSequenceNumber ?? 0 },
      };
    if (gen === generation && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(greeting));
    }
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const signal = abort.signal;
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
    });

  /** GET /gateway/bot, then wait until Discord's identify limits allow one more IDENTIFY. */
  const prepareIdentify = async (): Promise<Outcome | undefined> => {
    let info: Awaited<ReturnType<typeof bot.rest.getSessionInfo>>;
    try {
      info = await untilAborted(bot.rest.getSessionInfo(), abort.signal, timings);
    } catch (error) {
      if (abort.signal.aborted) return { kind: "stopped" };
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
      await sleep(waitMs);
      state.nextAttemptAt = null;
      if (abort.signal.aborted) return { kind: "stopped" };
    }
    return undefined;
  };

  /** One connection: opens, identifies or resumes, and lasts until it fails. */
  const session = async (mode: Mode): Promise<Outcome> => {
    state.attempts++;
    if (mode === "identify") {
      const notReady = await prepareIdentify();
      if (notReady) return notReady;
    }
    if (abort.signal.aborted) return { kind: "stopped" };
    generation++;
    inbox = [];
    state.phase = "connecting";
    const gen = generation;
    log.debug("discord gateway connecting", { attempt: state.attempts, mode });
    socketError = "";
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
    openAndGreet(gen, mode).catch((error) =>
      log.debug("discord gateway handshake failed", { error: String(error) })
    );
    const timer = setTimeout(
      () => report(gen, { type: "timeout" }),
      timings.handshakeTimeoutMs,
    );
    let opened = false;
    let hello = false;
    let readyAt: number | undefined;
    try {
      for (;;) {
        const signal = await nextSignal();
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
            await closeSocket(ShardSocketCloseCodes.Shutdown, "shutting down");
            return { kind: "stopped" };
          case "timeout":
            await closeSocket(ShardSocketCloseCodes.ZombiedConnection, "handshake timed out");
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
            await closeSocket(4900, "invalid session");
            if (!signal.resumable) shard.sessionId = undefined;
            return {
              kind: "failed",
              cause: `Discord invalidated the session (resumable: ${signal.resumable})`,
              next: signal.resumable && readyAt !== undefined ? retryAs("resume") : "identify",
              minDelayMs: invalidSessionDelay(timings, random),
              upMs,
            };
          case "reconnectRequested":
            await closeSocket(4901, "reconnect requested");
            return {
              kind: "failed",
              cause: "Discord asked for a reconnect (op 7)",
              next: retryAs("resume"),
              upMs,
            };
          case "zombie":
            await closeSocket(ShardSocketCloseCodes.ZombiedConnection, "no heartbeat ACK");
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
      generation++; // late signals from this socket are ignored from now on
      state.readySince = null;
      if (state.phase === "ready") state.phase = "connecting";
    }
  };

  const run = async () => {
    let failures = 0;
    let mode: Mode = "identify";
    while (!abort.signal.aborted) {
      const outcome = await session(mode);
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
      await sleep(delay);
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
      report(generation, { type: "stop" });
      await running;
      // A deliberate stop ends the session: the next start identifies afresh.
      shard.sessionId = undefined;
    },
    status: () => ({ ...state }),
  };
}

/** The one shard (this bridge never shards), registered where Discordeno's helpers look for it. */
function createShard(gateway: GatewayManager): DiscordenoShard {
  const shard = new DiscordenoShard({
    id: 0,
    connection: {
      compress: gateway.compress,
      transportCompression: gateway.transportCompression,
      intents: gateway.intents,
      properties: gateway.properties,
      token: gateway.token,
      totalShards: 1,
      url: gateway.url,
      version: gateway.version,
    },
    events: gateway.events,
    logger: gateway.logger,
    makePresence: gateway.makePresence,
  });
  // createBot sets preferSnakeCase: the bot's handlers expect Discord's raw payloads.
  if (gateway.preferSnakeCase) {
    shard.forwardToBot = (packet) => {
      shard.events.message?.(shard, packet as never);
    };
  }
  gateway.shards.set(0, shard);
  return shard;
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
