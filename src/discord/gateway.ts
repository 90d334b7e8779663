/**
 * The Discordeno bot: gateway connection for DMs plus the REST client.
 *
 * Contracts:
 * - Only DMs from humans reach `onDm`; guild messages, bots and the bot
 *   itself are ignored.
 * - A gateway close Discord will not let us recover from (bad token,
 *   disallowed intents, …) calls `onFatal` once with a one-line explanation.
 * - With DISCORD_API_URL pointing anywhere but discord.com, Discordeno
 *   switches its own rate limiter off ("proxy mode"); we switch it back on
 *   unless DISCORD_API_PROXY says the URL is a rate-limiting proxy.
 */
import { avatarUrl, createBot, DISCORD_API_URL, Intents, ShardState } from "@discordeno/bot";
import type { InboundDm } from "../bridge/inbound.ts";
import type { Logger } from "../bridge/ports.ts";
import type { Config } from "../config.ts";
import { explainFatalClose, FATAL_CLOSE_CODES } from "./fatal_close.ts";

export const desiredProperties = {
  message: {
    id: true,
    channelId: true,
    guildId: true,
    author: true,
    content: true,
    type: true,
  },
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

export interface DiscordGatewayOptions {
  config: Pick<
    Config,
    "discordToken" | "discordApplicationId" | "discordApiUrl" | "discordApiProxy"
  >;
  log: Logger;
  onDm(dm: InboundDm): Promise<void>;
  /** A raw INTERACTION_CREATE payload (snake_case, as Discord sends it). */
  onInteraction(raw: unknown): Promise<void>;
  onReady(): void;
  onFatal(explanation: string): void;
}

export function createDiscordBot(options: DiscordGatewayOptions) {
  const { config, log } = options;
  let lastCloseCode: number | undefined;
  let lastCloseReason = "";
  let stopping = false;
  let fatalReported = false;

  // Discordeno reports close codes only in a debug line; keep the last one to explain a fatal close.
  const closeLine = /closed with code (\d+)(?:, and reason: (.*))?\./;
  const loggerFor = (component: string) => {
    const l = log.child({ component: `discordeno.${component.toLowerCase()}` });
    const text = (args: unknown[]) =>
      args.map((a) => a instanceof Error ? a.message : String(a)).join(" ");
    return {
      debug: (...args: unknown[]) => {
        const line = text(args);
        const m = closeLine.exec(line);
        if (m) {
          lastCloseCode = Number(m[1]);
          lastCloseReason = m[2] ?? "";
        }
      },
      info: (...args: unknown[]) => l.debug(text(args)),
      warn: (...args: unknown[]) => l.warn(text(args)),
      error: (...args: unknown[]) => l.warn(text(args)),
      fatal: (...args: unknown[]) => l.error(text(args)),
    };
  };

  const customApi = config.discordApiUrl !== DISCORD_API_URL;
  const bot = createBot({
    token: config.discordToken,
    applicationId: BigInt(config.discordApplicationId),
    intents: Intents.DirectMessages,
    desiredProperties,
    rest: {
      token: config.discordToken,
      applicationId: BigInt(config.discordApplicationId),
      ...(customApi ? { proxy: { baseUrl: config.discordApiUrl } } : {}),
    },
    gateway: {
      token: config.discordToken,
      resharding: { enabled: false, shardsFullPercentage: 80, checkInterval: -1 },
      events: {
        disconnected(shard) {
          if (stopping || fatalReported || shard.state !== ShardState.Offline) return;
          if (lastCloseCode !== undefined && !(lastCloseCode in FATAL_CLOSE_CODES)) return;
          fatalReported = true;
          options.onFatal(explainFatalClose(lastCloseCode, lastCloseReason));
        },
      },
    },
    loggerFactory: loggerFor,
    handlers: {
      // Interactions are handled from the raw payload: the same code serves the HTTP endpoint.
      INTERACTION_CREATE(_bot, packet) {
        options.onInteraction(packet.d).catch((error) =>
          log.error("interaction handler failed", { error: String(error) })
        );
      },
    },
    events: {
      ready() {
        log.info("discord gateway ready");
        options.onReady();
      },
      async messageCreate(message) {
        if (message.guildId !== undefined) return;
        if (message.author.bot || message.author.id === bot.id) return;
        const author = message.author;
        await options.onDm({
          kind: "dm",
          messageId: message.id.toString(),
          channelId: message.channelId.toString(),
          author: {
            id: author.id.toString(),
            username: author.username,
            globalName: author.globalName ?? null,
            avatarUrl: author.avatar
              ? avatarUrl(author.id, author.discriminator, { avatar: author.avatar })
              : null,
          },
          content: message.content ?? "",
          receivedAt: Date.now(),
        }).catch((error) => {
          // Discord does not redeliver a gateway event: the next restart's catch-up must find it.
          log.error("could not queue dm", {
            discordMessageId: message.id.toString(),
            error: error instanceof Error ? error.message : String(error),
          });
        });
      },
    },
  });
  if (customApi) bot.rest.isProxied = config.discordApiProxy;

  return {
    bot,
    /** Connects the gateway; resolves once the connection attempt is under way. */
    start(): Promise<void> {
      return bot.start();
    },
    /** True when every shard is connected and identified. */
    isReady(): boolean {
      const shards = [...bot.gateway.shards.values()];
      return shards.length > 0 && shards.every((s) => s.state === ShardState.Connected);
    },
    async stop(): Promise<void> {
      stopping = true;
      await bot.shutdown().catch(() => {});
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
