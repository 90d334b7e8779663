/**
 * Reaching a user whose DMs are closed (FALLBACK_CHANNEL_ID): when Discord
 * refuses a DM (50007: the user does not accept DMs from the bot; 50278: no
 * server in common), what was for the DM goes to a private thread the bot
 * opens for the user in that server channel, named after the ticket, with
 * the user added. What the user writes there is relayed like a DM (the
 * gateway router checks the thread is theirs). While their DMs stay closed,
 * replies and notices go to the thread at once; a DM is tried again after
 * DM_RETRY_MS, and as soon as the user writes to the bot by DM.
 *
 * Each conversation's agents get one private note saying where its replies
 * are delivered. Without FALLBACK_CHANNEL_ID, a refused DM stays a failed
 * reply with its note (outbound.ts).
 */
import { describeError, ServiceError } from "./errors.ts";
import type { ChatwootPort, DiscordPort, Logger, MessageLinks, TicketStore } from "./ports.ts";

/** Discord codes of a DM the bot may not send, and what they mean. */
export const DMS_REFUSED: Record<number, string> = {
  50007: "DMs are closed",
  50278: "the user shares no server with the bot",
};

/** How long replies go straight to the thread before a DM is tried again. */
export const DM_RETRY_MS = 15 * 60_000;

/** A thread a moderator deleted (10003), locked (50083) or closed to the bot (50001). */
const DEAD_THREAD = new Set([10003, 50083, 50001]);
/** Discord: the user is not a member of the fallback channel's server. */
const NOT_IN_SERVER = 10007;

/** The user cannot be reached in the fallback server either (remembered for DM_RETRY_MS). */
class NotInFallbackServer extends ServiceError {
  readonly service = "discord";
  readonly status = 404;
  override readonly code = NOT_IN_SERVER;
  constructor(userId: string) {
    super(`Discord user ${userId} is not a member of the fallback channel's server`);
  }
}

export interface FallbackThreads {
  /** The user's current fallback thread, and the conversation it was opened for. */
  threadOf(userId: string): Promise<{ threadId: string; conversationId?: number } | undefined>;
  save(userId: string, threadId: string, conversationId: number | undefined): Promise<void>;
  /** The thread could not take the user: the next delivery opens another. */
  forget(userId: string): Promise<void>;
  /** The user a fallback thread belongs to (the gateway relays only their messages there). */
  ownerOf(threadId: string): Promise<string | undefined>;
  /** Discord refused a DM to the user within DM_RETRY_MS. */
  dmsClosed(userId: string): Promise<boolean>;
  markDmsClosed(userId: string): Promise<void>;
  /** The user wrote to the bot by DM: DMs work again. */
  markDmsOpen(userId: string): Promise<void>;
  /** Discord said the user is not in the fallback server, within DM_RETRY_MS. */
  notInServer(userId: string): Promise<boolean>;
  markNotInServer(userId: string): Promise<void>;
}

export interface Fallback {
  /** The server text channel the private threads are opened in. */
  channelId: string;
  threads: FallbackThreads;
}

export interface UserChannelDeps {
  discord: DiscordPort;
  tickets: TicketStore;
  /** Absent: FALLBACK_CHANNEL_ID is not set. */
  fallback?: Fallback;
  chatwoot?: ChatwootPort;
  links?: MessageLinks;
  log: Logger;
}

/** Where a user's messages go now: their DM channel, or their fallback thread. */
export interface UserChannel {
  channelId: string;
  where: "dm" | "thread";
}

function isDmRefused(error: unknown): boolean {
  return error instanceof ServiceError && error.service === "discord" && error.code !== undefined &&
    error.code in DMS_REFUSED;
}

/** The channel to send to first: the thread while the user's DMs are known to be closed. */
export async function userChannel(
  deps: UserChannelDeps,
  userId: string,
  conversationId?: number,
): Promise<UserChannel> {
  if (deps.fallback && await deps.fallback.threads.dmsClosed(userId)) {
    return {
      channelId: await threadFor(deps, deps.fallback, userId, conversationId),
      where: "thread",
    };
  }
  return { channelId: await dmChannelFor(deps, userId), where: "dm" };
}

/**
 * Sends to the user: `send` runs with their channel; when a DM is refused and
 * the fallback is configured, again with their thread. Other failures (and a
 * refused DM without the fallback) are thrown as they are.
 */
export async function sendToUser<T>(
  deps: UserChannelDeps,
  target: { userId: string; conversationId?: number },
  channel: UserChannel,
  send: (channelId: string) => Promise<T>,
): Promise<{ result: T; channel: UserChannel }> {
  const { fallback } = deps;
  try {
    return { result: await send(channel.channelId), channel };
  } catch (error) {
    if (!fallback) throw error;
    if (channel.where === "dm") {
      if (!isDmRefused(error)) throw error;
      await fallback.threads.markDmsClosed(target.userId);
      deps.log.info("DMs closed: delivering in the fallback thread", {
        discordUserId: target.userId,
      });
    } else {
      if (!isDeadThread(error)) throw error;
      // Deleted or locked by a moderator: a new thread, once.
      await fallback.threads.forget(target.userId);
      deps.log.warn("fallback thread gone: opening another", { discordUserId: target.userId });
    }
  }
  const threadId = await threadFor(deps, fallback, target.userId, target.conversationId);
  return { result: await send(threadId), channel: { channelId: threadId, where: "thread" } };
}

function isDeadThread(error: unknown): boolean {
  return error instanceof ServiceError && error.service === "discord" &&
    error.code !== undefined && DEAD_THREAD.has(error.code);
}

/** Tells the conversation's agents, once per thread, where its replies are delivered. */
export async function noteThreadDelivery(
  deps: UserChannelDeps,
  conversationId: number,
  channel: UserChannel,
): Promise<void> {
  if (channel.where !== "thread" || !deps.chatwoot || !deps.links || !deps.fallback) return;
  if (!(await deps.links.once("fallback_note", `${conversationId}:${channel.channelId}`))) return;
  await deps.chatwoot.createPrivateNote(
    conversationId,
    `cordwoot: this user's Discord DMs are closed, so replies are delivered in a private thread ` +
      `(id ${channel.channelId}) the bot opened for them in the server channel ` +
      `${deps.fallback.channelId}. Their messages there reach this conversation; ` +
      "replies go back to DMs once they are open again.",
  );
}

/** The user's thread for this conversation, opened (and the user added) when there is none. */
async function threadFor(
  deps: UserChannelDeps,
  fallback: Fallback,
  userId: string,
  conversationId: number | undefined,
): Promise<string> {
  const known = await fallback.threads.threadOf(userId);
  if (known && (conversationId === undefined || known.conversationId === conversationId)) {
    return known.threadId;
  }
  // Not in the server a moment ago: no thread (each would count against the server's limit).
  if (await fallback.threads.notInServer(userId)) throw new NotInFallbackServer(userId);
  const name = conversationId === undefined ? "Support" : `Ticket #${conversationId}`;
  const threadId = await deps.discord.openPrivateThread(fallback.channelId, name);
  // Recorded before the user is in it, so that nothing they write there is taken for a stranger's.
  await fallback.threads.save(userId, threadId, conversationId ?? known?.conversationId);
  try {
    await deps.discord.addThreadMember(threadId, userId);
  } catch (error) {
    await fallback.threads.forget(userId);
    if (error instanceof ServiceError && error.code === NOT_IN_SERVER) {
      await fallback.threads.markNotInServer(userId);
    }
    // An empty thread is of no use, and active threads are limited per server; the next attempt
    // opens a new one.
    await deps.discord.deleteChannel(threadId).catch((e) =>
      deps.log.warn("could not delete an unused fallback thread", {
        threadId,
        error: describeError(e),
      })
    );
    throw error;
  }
  deps.log.info("fallback thread opened", { discordUserId: userId, threadId, conversationId });
  return threadId;
}

/** The DM channel id is stable per user: open it once and remember it. */
export async function dmChannelFor(
  deps: Pick<UserChannelDeps, "discord" | "tickets">,
  userId: string,
): Promise<string> {
  const known = await deps.tickets.getDmChannel(userId);
  if (known) return known;
  const channelId = await deps.discord.openDmChannel(userId);
  await deps.tickets.saveDmChannel(userId, channelId);
  return channelId;
}
