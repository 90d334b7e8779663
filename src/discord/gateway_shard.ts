/**
 * Discordeno's shard for the bridge's one gateway connection, with its own
 * reconnection switched off: gateway_supervisor.ts alone decides when to
 * connect (see its contracts).
 *
 * Contracts:
 * - Discordeno still handles the socket, heartbeats and the dispatch to the
 *   bot's handlers. Everything that ends or advances a connection (open,
 *   HELLO, READY/RESUMED, close, INVALID_SESSION, op 7, a missed heartbeat
 *   ACK) becomes a `Signal` for the attempt it belongs to; signals of an
 *   attempt already given up are dropped.
 * - Each connection sends exactly one IDENTIFY or RESUME, built here
 *   (Discordeno's queued sends would replay the IDENTIFYs of failed attempts
 *   on the next socket).
 * - `closeSocket` waits at most `closeTimeoutMs`: a socket that never reports
 *   closed is abandoned.
 */
import {
  DiscordenoShard,
  type GatewayManager,
  ShardSocketCloseCodes,
  ShardState,
} from "@discordeno/bot";
import type { Logger } from "../bridge/ports.ts";
import type { GatewayTimings } from "./reconnect_policy.ts";

export type Mode = "identify" | "resume";

/** What one socket (or one GET /gateway/bot) told us. */
export type Signal =
  | { type: "open" }
  | { type: "hello" }
  | { type: "established"; resumed: boolean }
  | { type: "closed"; code: number; reason: string }
  | { type: "invalidSession"; resumable: boolean }
  | { type: "reconnectRequested" }
  | { type: "zombie" }
  | { type: "timeout" }
  | { type: "stop" };

export interface SupervisedShard {
  readonly shard: DiscordenoShard;
  /** Starts a new attempt (signals of earlier ones are dropped from now on); returns its number. */
  beginAttempt(): number;
  /** Ends the current attempt: its late signals are dropped from now on. */
  endAttempt(): void;
  /** Reports a signal of attempt `gen`; dropped unless that attempt is the current one. */
  report(gen: number, signal: Signal): void;
  /** Reports a signal to whichever attempt is current (a stop). */
  reportToCurrent(signal: Signal): void;
  /** The current attempt's next signal, in the order they were reported. */
  nextSignal(): Promise<Signal>;
  /** Closes the current socket; one that never reports closed is abandoned. */
  closeSocket(code: number, reason: string): Promise<void>;
  /** Opens the socket, then sends this connection's IDENTIFY or RESUME (Discord's op 2 / op 6). */
  openAndGreet(gen: number, mode: Mode): Promise<void>;
}

export function createSupervisedShard(
  gateway: GatewayManager,
  options: { log: Logger; timings: Pick<GatewayTimings, "closeTimeoutMs"> },
): SupervisedShard {
  const { log, timings } = options;
  const shard = createShard(gateway);

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
  // those all reach the supervisor as signals instead, and it alone reconnects.
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

  return {
    shard,
    beginAttempt() {
      generation++;
      inbox = [];
      socketError = "";
      return generation;
    },
    endAttempt() {
      generation++;
    },
    report,
    reportToCurrent: (signal) => report(generation, signal),
    nextSignal,
    closeSocket,
    openAndGreet,
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
