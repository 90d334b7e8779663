/**
 * Recovery of what no one will send again:
 *
 * - Missed webhooks. Chatwoot never retries a webhook, so agent messages in
 *   recently active conversations are read back and any not yet relayed is
 *   queued, under the same dedupe key as its webhook (so it is never sent twice).
 * - Missed DMs. Discord does not replay DMs sent while the bot was away, so the
 *   DM channels of recently active users are read after the last DM forwarded.
 *
 * Both are bounded (conversations or users per run) and report the API calls they made.
 */
import type { ChatwootMessageEvent } from "../bridge/webhook_events.ts";
import type { InboundDm } from "../bridge/items.ts";
import type { MessageEventOutcome } from "../bridge/intake.ts";
import type { ChatwootPort, DiscordPort, Logger, TicketStore } from "../bridge/ports.ts";
import type { RecentActivity } from "../store/recent_activity.ts";

export const MAX_CONVERSATIONS_PER_RUN = 50;
export const MAX_USERS_PER_CATCH_UP = 100;

export async function reconcileMissedReplies(deps: {
  recent: Pick<RecentActivity, "conversations">;
  chatwoot: Pick<ChatwootPort, "listMessages">;
  tickets: TicketStore;
  inboxId: number;
  windowHours: number;
  accept: (event: ChatwootMessageEvent) => Promise<MessageEventOutcome>;
  log: Logger;
  now?: () => number;
}): Promise<{ conversations: number; apiCalls: number; queued: number }> {
  const now = (deps.now ?? Date.now)();
  const since = now - deps.windowHours * 3600_000;
  const list = await deps.recent.conversations(since, MAX_CONVERSATIONS_PER_RUN);
  let apiCalls = 0;
  let queued = 0;
  for (const { conversationId, value } of list) {
    const ticket = await deps.tickets.get(value.userId);
    // Messages from before the bridge attached this conversation are not its to relay.
    const attachedAt = ticket?.since ?? since;
    apiCalls++;
    let messages;
    try {
      messages = await deps.chatwoot.listMessages(conversationId);
    } catch (error) {
      deps.log.warn("reconciliation could not read a conversation", {
        conversationId,
        error: error instanceof Error ? error.message : String(error),
      });
      continue;
    }
    // Chatwoot's created_at has whole seconds: compare in seconds, keeping the attaching second.
    const fromSecond = Math.floor(Math.max(attachedAt, since) / 1000);
    for (const m of messages) {
      if (m.createdAt < fromSecond) continue;

      if (m.messageType !== "outgoing" && m.messageType !== "template") continue;
      const outcome = await deps.accept({
        messageId: m.id,
        messageType: m.messageType,
        private: m.private,
        content: m.content,
        contentType: m.contentType,
        ...(m.interactive ? { interactive: m.interactive } : {}),
        inboxId: deps.inboxId,
        accountId: undefined,
        conversationId,
        contactIdentifier: `discord:${value.userId}`,
        contactSourceId: null,
      });
      if (outcome.status === "queued") queued++;
    }
  }
  deps.log[queued ? "warn" : "info"]("reconciliation done", {
    conversations: list.length,
    apiCalls,
    missedRepliesQueued: queued,
  });
  return { conversations: list.length, apiCalls, queued };
}

export async function catchUpMissedDms(deps: {
  recent: Pick<RecentActivity, "dms" | "threads">;
  discord: Pick<DiscordPort, "listMessagesAfter">;
  windowHours: number;
  accept: (dm: InboundDm) => Promise<boolean>;
  log: Logger;
  now?: () => number;
}): Promise<{ users: number; apiCalls: number; recovered: number }> {
  const now = (deps.now ?? Date.now)();
  const since = now - deps.windowHours * 3600_000;
  // DM channels, and the fallback threads of users whose DMs are closed (read the same way).
  const list = [
    ...(await deps.recent.dms(since, MAX_USERS_PER_CATCH_UP)),
    ...(await deps.recent.threads(since, MAX_USERS_PER_CATCH_UP)).map((t) => ({
      ...t,
      inThread: true as const,
    })),
  ];
  let apiCalls = 0;
  let recovered = 0;
  for (const { userId, value, ...where } of list) {
    apiCalls++;
    try {
      const messages = await deps.discord.listMessagesAfter(value.channelId, value.messageId, 100);
      for (const m of messages) {
        if (m.author.id !== userId || m.author.bot) continue;
        const accepted = await deps.accept({
          kind: "dm",
          messageId: m.id,
          channelId: m.channelId,
          author: { id: userId, username: m.author.username, globalName: m.author.globalName },
          content: m.content,
          ...("inThread" in where ? { inThread: true as const } : {}),
          receivedAt: Date.now(),
        });
        if (accepted) recovered++;
      }
    } catch (error) {
      deps.log.warn("could not read a DM channel to catch up", {
        discordUserId: userId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  deps.log[recovered ? "warn" : "info"]("missed DM catch-up done", {
    users: list.length,
    apiCalls,
    missedDmsQueued: recovered,
  });
  return { users: list.length, apiCalls, recovered };
}
