/**
 * The momentary signals between the two sides, wired to the adapters: typing
 * indicators both ways (relays in bridge/typing.ts) and the bot's presence
 * from the inbox's working hours.
 *
 * Contracts:
 * - Nothing here is retried or queued: a lost indicator or presence update
 *   costs nothing; failures are logged (typing at debug, presence at warn).
 * - A user's typing reaches Chatwoot only for a user with a ticket in a
 *   conversation, through the inbox's public (client) API.
 * - The presence is set only while the gateway is ready.
 */
import { describeError } from "../bridge/errors.ts";
import { scheduleOf } from "../bridge/inbound.ts";
import { dmChannelFor } from "../bridge/fallback.ts";
import type { Logger } from "../bridge/ports.ts";
import { createAgentTypingRelay, createUserTypingRelay } from "../bridge/typing.ts";
import { isOpenAt } from "../bridge/working_hours.ts";
import type { Config } from "../config.ts";
import { updatePresence } from "../discord/presence.ts";
import type { Services } from "./services.ts";

export function typingRelays(
  services: Pick<Services, "chatwoot" | "discordRest" | "tickets" | "inbox" | "fallback">,
  options: {
    log: Logger;
    /** A user's typing is reported off after this long without a new TYPING_START. */
    userTypingIdleMs?: number;
    /** An agent's typing is renewed on Discord this often, for at most `agentTypingMaxMs`. */
    agentTypingRenewMs?: number;
    agentTypingMaxMs?: number;
  },
) {
  const { chatwoot, discordRest, tickets, inbox, fallback } = services;
  const { log } = options;
  const userTyping = createUserTypingRelay({
    log,
    idleMs: options.userTypingIdleMs,
    async send(userId, on) {
      const ticket = await tickets.get(userId);
      const { inboxIdentifier } = await inbox.get();
      if (ticket?.conversationId === undefined || !inboxIdentifier) return;
      await chatwoot.toggleContactTyping(
        inboxIdentifier,
        ticket.sourceId,
        ticket.conversationId,
        on,
      );
    },
  });
  const agentTyping = createAgentTypingRelay({
    log,
    renewMs: options.agentTypingRenewMs,
    maxMs: options.agentTypingMaxMs,
    type: async (userId) => {
      // While the user's DMs are closed, agents type in their fallback thread (never opened for it).
      if (fallback && await fallback.threads.dmsClosed(userId)) {
        const thread = await fallback.threads.threadOf(userId);
        if (thread) discordRest.startTyping(thread.threadId);
        return;
      }
      discordRest.startTyping(await dmChannelFor({ discord: discordRest, tickets }, userId));
    },
  });
  return { userTyping, agentTyping };
}

/** Sets the bot's presence from the working hours now (the cron runs it periodically). */
export function presenceRefresher(
  config: Config,
  services: Pick<Services, "discord" | "inbox">,
  log: Logger,
): () => Promise<void> {
  const { discord, inbox } = services;
  return async () => {
    if (!discord.isReady()) return;
    const open = isOpenAt(scheduleOf(await inbox.get()), Date.now());
    await updatePresence(discord.bot, open, config.presence).catch((error) =>
      log.warn("presence update failed", { error: describeError(error) })
    );
  };
}
