/**
 * Chatwoot → Discord: one agent reply becomes one or more DMs.
 *
 * `relayReply` is one mailbox step and may run again after an interrupted
 * attempt: each part sent is checkpointed, and each carries a nonce Discord
 * enforces, so a part is not sent twice.
 */
import { nonceFor, type OutboundNotice } from "./notices.ts";
import type { CsatStore, DiscordPort, Logger, TicketStore } from "./ports.ts";
import { splitMessage } from "./split_message.ts";

/** An agent reply waiting in the outbound mailbox. Plain data: it is stored in KV. */
export interface OutboundReply {
  kind: "reply";
  discordUserId: string;
  conversationId: number;
  chatwootMessageId: number;
  content: string;
  /** Which stored piece of a very long reply this is (see intake.ts); absent for most replies. */
  segment?: number;
  /** Epoch ms when the webhook arrived. */
  receivedAt: number;
}

/** Chatwoot sent its CSAT survey: ask the user with a button instead of a link. */
export interface CsatPromptItem {
  kind: "csat_prompt";
  discordUserId: string;
  conversationId: number;
  /** From the survey link; null when the link was missing (then read from the conversation). */
  uuid: string | null;
  receivedAt: number;
}

export interface ReplyProgress {
  /** Discord message ids of the parts already sent, in order. */
  sentPartIds?: string[];
}

export interface OutboundDeps {
  discord: DiscordPort;
  tickets: TicketStore;
  log: Logger;
  checkpoint(progress: ReplyProgress): Promise<void>;
}

export async function relayReply(
  deps: OutboundDeps,
  reply: OutboundReply,
  progress: ReplyProgress,
): Promise<string[]> {
  const log = deps.log.child({
    discordUserId: reply.discordUserId,
    conversationId: reply.conversationId,
    chatwootMessageId: reply.chatwootMessageId,
  });
  const channelId = await dmChannelFor(deps, reply.discordUserId);
  const parts = splitMessage(reply.content).filter((p) => p.trim() !== "");
  const sent = [...(progress.sentPartIds ?? [])];
  for (let i = sent.length; i < parts.length; i++) {
    const message = await deps.discord.sendMessage(channelId, {
      content: parts[i],
      nonce: `cw${reply.chatwootMessageId}s${reply.segment ?? 0}p${i}`,
    });
    sent.push(message.id);
    await deps.checkpoint({ sentPartIds: sent });
  }
  log.info("reply delivered", { parts: sent.length, latencyMs: Date.now() - reply.receivedAt });
  return sent;
}

/** Sends a notice once (its nonce makes a re-run after a crash harmless). */
export type NoticeDeps = Pick<OutboundDeps, "discord" | "tickets" | "log"> & { csat: CsatStore };

export async function sendNotice(deps: NoticeDeps, item: OutboundNotice): Promise<void> {
  const channelId = await dmChannelFor(deps, item.discordUserId);
  const sent = await deps.discord.sendMessage(channelId, {
    embed: item.embed,
    button: item.button,
    nonce: nonceFor(item.noticeId),
  });
  if (item.csat) {
    await deps.csat.save({
      uuid: item.csat.uuid,
      userId: item.discordUserId,
      conversationId: item.csat.conversationId,
      channelId,
      messageId: sent.id,
    });
  }
  deps.log.info("notice delivered", {
    discordUserId: item.discordUserId,
    notice: item.noticeId,
    latencyMs: Date.now() - item.receivedAt,
  });
}

/** The DM channel id is stable per user: open it once and remember it. */
export async function dmChannelFor(
  deps: Pick<OutboundDeps, "discord" | "tickets">,
  userId: string,
): Promise<string> {
  const known = await deps.tickets.getDmChannel(userId);
  if (known) return known;
  const channelId = await deps.discord.openDmChannel(userId);
  await deps.tickets.saveDmChannel(userId, channelId);
  return channelId;
}
