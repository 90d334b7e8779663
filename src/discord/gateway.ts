/**
 * The Discordeno bot: gateway connection for DMs plus the REST client.
 *
 * Contracts:
 * - DM events arrive raw at `onEvent` (dm_events.ts tells DMs from the rest).
 * - The connection is kept by gateway_supervisor.ts, not by Discordeno: every
 *   failure is retried with backoff, logged and shown in `status()`.
 * - A gateway close Discord will not let us recover from (bad token,
 *   disallowed intents, …) calls `onFatal` once with a one-line explanation.
 * - With DISCORD_API_URL pointing anywhere but discord.com, Discordeno
 *   switches its own rate limiter off ("proxy mode"); we switch it back on
 *   unless DISCORD_API_PROXY says the URL is a rate-limiting proxy.
 */
import { createBot, DISCORD_API_URL, Intents, ShardState } from "@discordeno/bot";
import type { Logger } from "../bridge/ports.ts";
import type { Config } from "../config.ts";
import { type GatewayStatus, superviseGateway } from "./gateway_supervisor.ts";
import type { GatewayTimings } from "./reconnect_policy.ts";
import { limitRequestTime } from "./rest_deadline.ts";
import { limitSendRate } from "./send_gate.ts";

export const desiredProperties = {
  message: {
    id: true,
    channelId: true,
    guildId: true,
    author: true,
    content: true,
    type: true,
    attachments: true,
  },
  attachment: { id: true, url: true, filename: true, contentType: true, size: true },

  user: {
    id: true,
    username: true,
    globalName: true,
    avatar: true,
    discriminator: true,
    toggles: true,
  },
  channel: { id: true, type: true },
} as const;

export type DiscordBot = ReturnType<typeof createDiscordBot>["bot"];

/** How long Discordeno keeps an idle route queue (its default: a minute). */
const ROUTE_QUEUE_IDLE_MS = 5_000;

export interface DiscordGatewayOptions {
  config: Pick<
    Config,
    | "discordToken"
    | "discordApplicationId"
    | "discordApiUrl"
    | "discordApiProxy"
    | "discordBotId"
    | "fallbackChannelId"
  >;
  log: Logger;
  onFatal(explanation: string): void;
  /** Reconnection timings (tests shrink them); defaults in reconnect_policy.ts. */
  timings?: Partial<GatewayTimings>;
  /** Deadline of a REST request without files (default 15 s; rest_deadline.ts). */
  requestTimeoutMs?: number;
}

/** What the gateway hands over once started. */
export interface GatewayListeners {
  /** Raw gateway events this bridge handles (snake_case, as Discord sends them). */
  onEvent(name: GatewayEventName, raw: unknown): Promise<void>;
  /** A raw INTERACTION_CREATE payload. */
  onInteraction(raw: unknown): Promise<void>;
  onReady(): void;
}

export type GatewayEventName =
  | "MESSAGE_CREATE"
  | "MESSAGE_UPDATE"
  | "MESSAGE_DELETE"
  | "TYPING_START";

export function createDiscordBot(options: DiscordGatewayOptions) {
  const { config, log } = options;
  /** Set by start(): nothing arrives before the first connection. */
  let listeners: GatewayListeners | undefined;

  const loggerFor = (component: string) => {
    const l = log.child({ component: `discordeno.${component.toLowerCase()}` });
    const text = (args: unknown[]) =>
      args.map((a) => a instanceof Error ? a.message : String(a)).join(" ");
    return {
      debug: () => {},
      info: (...args: unknown[]) => l.debug(text(args)),
      warn: (...args: unknown[]) => l.warn(text(args)),
      // The supervisor logs each failed gateway attempt once, with its cause.
      error: (...args: unknown[]) => (component === "GATEWAY" ? l.debug : l.warn)(text(args)),
      fatal: (...args: unknown[]) => l.error(text(args)),
    };
  };
  // Events are read from the raw payload: one parser for the gateway and the HTTP endpoint.
  const raw = (name: GatewayEventName) => (_bot: unknown, packet: { d: unknown }) => {
    listeners?.onEvent(name, packet.d).catch((error) =>
      log.error("gateway event handler failed", { event: name, error: String(error) })
    );
  };

  const customApi = config.discordApiUrl !== DISCORD_API_URL;
  const bot = createBot({
    token: config.discordToken,
    applicationId: BigInt(config.discordApplicationId),
    // A fallback thread is a server channel: its messages need these two (Message Content is
    // privileged: enabled in the Developer Portal).
    intents: Intents.DirectMessages | Intents.DirectMessageTyping |
      (config.fallbackChannelId ? Intents.GuildMessages | Intents.MessageContent : 0),
    desiredProperties,
    rest: {
      token: config.discordToken,
      applicationId: BigInt(config.discordApplicationId),
      ...(customApi ? { proxy: { baseUrl: config.discordApiUrl } } : {}),
    },
    gateway: {
      token: config.discordToken,
      resharding: { enabled: false, shardsFullPercentage: 80, checkInterval: -1 },
    },
    loggerFactory: loggerFor,
    handlers: {
      MESSAGE_CREATE: raw("MESSAGE_CREATE"),
      MESSAGE_UPDATE: raw("MESSAGE_UPDATE"),
      MESSAGE_DELETE: raw("MESSAGE_DELETE"),
      TYPING_START: raw("TYPING_START"),
      INTERACTION_CREATE(_bot, packet) {
        listeners?.onInteraction(packet.d).catch((error) =>
          log.error("interaction handler failed", { error: String(error) })
        );
      },
    },
    events: {
      ready() {
        log.info("discord gateway ready");
        listeners?.onReady();
      },
    },
  });
  if (customApi) bot.rest.isProxied = config.discordApiProxy;
  limitRequestTime(bot.rest, options.requestTimeoutMs);
  // Discordeno keeps a queue per route for a minute after its last request, and a ✅ reaction's
  // route names its message: under load that is one queue per DM. Our own scheduler paces
  // requests, so idle queues go after a few seconds.
  bot.rest.deleteQueueDelay = ROUTE_QUEUE_IDLE_MS;
  limitSendRate(bot.rest);
  const supervisor = superviseGateway({
    bot,
    log,
    timings: options.timings,
    onFatal: options.onFatal,
  });

  return {
    bot,
    /**
     * Starts connecting in the background and returns at once; failures are
     * retried. Events go to `to` from then on.
     */
    start(to: GatewayListeners): void {
      listeners = to;
      supervisor.start();
    },
    /** True when every shard is connected and identified. */
    isReady(): boolean {
      const shards = [...bot.gateway.shards.values()];
      return shards.length > 0 && shards.every((s) => s.state === ShardState.Connected);
    },
    /** Attempts, last error and next attempt, for /healthz. */
    status(): GatewayStatus {
      return supervisor.status();
    },
    async stop(): Promise<void> {
      await supervisor.stop();
      releaseTimers(bot);
    },
    /** Closes the connection on purpose (another instance holds the gateway now); start() reconnects. */
    async disconnect(): Promise<void> {
      await supervisor.stop();
      releaseTimers(bot);
    },
  };
}

/** Discordeno leaves timers behind after shutdown (bucket refills, queue clean-up). */
function releaseTimers(bot: DiscordBot) {
  for (const shard of bot.gateway.shards.values()) {
    clearTimeout(shard.bucket.timeoutId);
    shard.stopHeartbeating();
  }
  for (const queue of bot.rest.queues.values()) {
    clearTimeout(queue.deleteQueueTimeout);
    clearTimeout(queue.timeoutId);
  }
}
