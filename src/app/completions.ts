/**
 * What a finished item leaves behind (items.ts `Completion`), as the KV
 * records written in the commit that removes the item.
 */
import type { Completion, Direction } from "../bridge/items.ts";
import type { CompletionRecord } from "../jobs/mailbox.ts";
import { keys } from "../store/keys.ts";
import { LINK_TTL_MS } from "../store/links.ts";
import { conversationActivity, dmActivity } from "../store/recent_activity.ts";

export function completionRecords<D extends Direction>(
  userId: string,
  completion: Completion<D>,
  options: { recentWindowMs: number; now: number },
): CompletionRecord[] {
  const records: CompletionRecord[] = [];
  const { relayed, userWrote } = completion;
  if (relayed) {
    const { chatwootMessageId, discordMessageIds, conversationId } = relayed;
    if (discordMessageIds.length) {
      records.push({
        key: keys.linkFromChatwoot(chatwootMessageId),
        value: discordMessageIds,
        expireIn: LINK_TTL_MS,
      });
    }
    for (const id of discordMessageIds) {
      records.push({
        key: keys.linkFromDiscord(id),
        value: chatwootMessageId,
        expireIn: LINK_TTL_MS,
      });
    }
    records.push(
      conversationActivity(conversationId, userId, options.now, options.recentWindowMs),
    );
  }
  if (userWrote) {
    records.push(
      dmActivity(userId, userWrote, options.now, options.recentWindowMs),
      { key: keys.dmChannelUser(userWrote.channelId), value: userId },
      // Replies to a user who wrote first need no "open DM" request.
      { key: keys.dmChannel(userId), value: userWrote.channelId },
    );
  }
  for (const item of completion.followUps ?? []) records.push({ followUp: item });
  return records;
}
