/**
 * What a finished item leaves behind (items.ts `Completion`), as the KV
 * records written in the commit that removes the item. Each record comes from
 * the store module that owns its keys.
 */
import type { Completion, Direction, MailboxItems, OtherDirection } from "../bridge/items.ts";
import { agentRepliedRecord, userWroteRecord } from "./answer_waits.ts";
import { linkRecords } from "./links.ts";
import { conversationActivity, dmActivity } from "./recent_activity.ts";
import type { KvRecord } from "./records.ts";
import { dmChannelRecords } from "./tickets.ts";

export function completionRecords<D extends Direction>(
  userId: string,
  completion: Completion<D>,
  /** trackLastSpeaker: NUDGE_AFTER_HOURS is set (the records cost a write per message). */
  options: { recentWindowMs: number; now: number; trackLastSpeaker?: boolean },
): { records: KvRecord[]; followUps: MailboxItems[OtherDirection<D>][] } {
  const records: KvRecord[] = [];
  const { relayed, userWrote } = completion;
  if (relayed) {
    records.push(
      ...linkRecords(relayed.chatwootMessageId, relayed.discordMessageIds),
      conversationActivity(relayed.conversationId, userId, options.now, options.recentWindowMs),
    );
  }
  if (userWrote) {
    records.push(dmActivity(userId, userWrote, options.now, options.recentWindowMs));
    // Replies to a user who wrote first need no "open DM" request (a thread is no DM channel).
    if (!userWrote.inThread) records.push(...dmChannelRecords(userId, userWrote.channelId));
  }
  const speaker = completion.lastSpeaker;
  if (speaker && options.trackLastSpeaker) {
    records.push(
      speaker.who === "agent"
        ? agentRepliedRecord(speaker.conversationId, userId, options.now)
        : userWroteRecord(speaker.conversationId, options.now),
    );
  }
  return { records, followUps: completion.followUps ?? [] };
}
