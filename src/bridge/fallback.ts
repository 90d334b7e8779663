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
import { ServiceError } from "./errors.ts";
import type { DiscordPort, Logger, MessageLinks, TicketStore } from "./ports.ts";
import type { ChatwootPort } from "./ports.ts";

/** Discord codes of a DM the bot may not send, and what they mean. */
export const DMS_REFUSED: Record<number, string> = {
  50007: "DMs are closed",
  50278: "the user shares no server with the bot",
};

/** How long replies go straight to the thread before a DM is tried again. */
export const DM_RETRY_MS = 15 * 60_000;

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

export function isDmRefused(error: unknown): boolean {
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
  try {
    return { result: await send(channel.channelId), channel };
  } catch (error) {
    if (channel.where !== "dm" || !deps.fallback || !isDmRefused(error)) throw error;
    await deps.fallback.threads.markDmsClosed(target.userId);
    const threadId = await threadFor(deps, deps.fallback, target.userId, target.conversationId);
    deps.log.info("DMs closed: delivering in the fallback thread", {
      discordUserId: target.userId,
      threadId,
    });
    const thread: UserChannel = { channelId: threadId, where: "thread" };
    return { result: await send(threadId), channel: thread };
  }
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
  const name = conversationId === undefined ? "Support" : `Ticket #${conversationId}`;
  const threadId = await deps.discord.openPrivateThread(fallback.channelId, name);
  // Recorded before the user is in it, so that nothing they write there is taken for a stranger's.
  await fallback.threads.save(userId, threadId, conversationId ?? known?.conversationId);
  try {
    await deps.discord.addThreadMember(threadId, userId);
  } catch (error) {
    await fallback.threads.forget(userId);
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
