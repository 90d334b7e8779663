/**
 * The whole Deno KV key space of cordwoot. No other file writes a key literal.
 *
 * ticket/<discordUserId>                      → TicketRecord
 * dm_channel/<discordUserId>                  → DM channel id
 * dm_channel_user/<channelId>                 → the user of a DM channel
 * mailbox/<dir>/<discordUserId>/<position>     → MailboxEntry (key order = delivery order; <dir> is
 *                                               "in": to Chatwoot, "out": to Discord; see ItemPosition)
 * pending/<dir>/<discordUserId>               → marks a mailbox that may hold items (sweep index)
 * lease/<dir>/<discordUserId>                 → Lease of the instance draining that mailbox
 * retry/<dir>/<discordUserId>                 → RetryState after a failed attempt
 * dead/<dir>/<discordUserId>/<position>       → DeadItem: failed for good, kept DEAD_LETTER_DAYS
 * seen/<kind>/<id>                            → dedupe marker (expiry by kind: store/seen.ts)
 * inbox_settings                              → CachedInboxSettings (settings + fetch time)
 * conversation/<conversationId>               → ConversationState (status as last seen, flags)
 * delay_notice/<discordUserId>                → the user was told delivery is delayed
 * csat/<uuid>                                 → CsatPrompt (who was asked, and whether they rated)
 * interactive/<chatwootMessageId>             → InteractivePrompt (whose it is, what was answered)
 * topic_pick/<discordUserId>                  → TopicPick: the topic menu shown before a new ticket
 * last_agent/<conversationId>                 → {userId, at}: an agent's last reply reached the user
 * last_user/<conversationId>                  → at: the user's last message in it (NUDGE_AFTER_HOURS)
 * nudged/<conversationId>                     → at: the "Still need help?" check-in was sent
 * fallback_thread/<discordUserId>             → {threadId, conversationId}: the private thread used
 *                                               while the user's DMs are closed (FALLBACK_CHANNEL_ID)
 * thread_owner/<threadId>                     → the user a fallback thread belongs to
 * dms_closed/<discordUserId>                  → at: Discord refused a DM (expires after DM_RETRY_MS)
 * not_in_server/<discordUserId>               → at: not a member of the fallback server (same)
 * gateway_leader                              → which instance holds the Discord gateway
 * link_cw/<chatwootMessageId>                 → Discord message ids it was delivered as
 * link_dc/<discordMessageId>                  → Chatwoot message id it belongs to
 * once/<kind>/<id>                            → a one-time action was done (e.g. a private note)
 * recent_conversation/<conversationId>        → {userId, at}: activity, for reconciliation (expires)
 * recent_dm/<discordUserId>                   → {channelId, messageId, at}: last DM forwarded (expires)
 * recent_thread/<discordUserId>               → the same in the user's fallback thread
 */
import type { Direction } from "../bridge/items.ts";

export type { Direction };

/**
 * Where an item sits in its mailbox: its seq; for a follow-up another item
 * produced (in the user's other mailbox), that seq, then the producing
 * item's position and the follow-up's index (keeping it unique).
 */
export type ItemPosition = readonly [bigint, ...(bigint | number)[]];

/** The mailbox a pending, lease or retry key belongs to. */
export interface MailboxOwner {
  dir: Direction;
  userId: string;
}

export const keys = {
  ticket: (userId: string) => ["ticket", userId] as const,
  dmChannel: (userId: string) => ["dm_channel", userId] as const,
  dmChannelUser: (channelId: string) => ["dm_channel_user", channelId] as const,
  mailboxItem: (dir: Direction, userId: string, position: ItemPosition) =>
    ["mailbox", dir, userId, ...position] as const,
  mailbox: (dir: Direction, userId: string) => ["mailbox", dir, userId] as const,
  allMailboxes: () => ["mailbox"] as const,
  pending: (dir: Direction, userId: string) => ["pending", dir, userId] as const,
  allPending: () => ["pending"] as const,
  lease: (dir: Direction, userId: string) => ["lease", dir, userId] as const,
  retry: (dir: Direction, userId: string) => ["retry", dir, userId] as const,
  allRetries: () => ["retry"] as const,
  deadItem: (dir: Direction, userId: string, position: ItemPosition) =>
    ["dead", dir, userId, ...position] as const,
  deadLetters: (dir: Direction, userId: string) => ["dead", dir, userId] as const,
  deadLettersIn: (dir: Direction) => ["dead", dir] as const,
  allDead: () => ["dead"] as const,
  seen: (kind: string, id: string) => ["seen", kind, id] as const,
  inboxSettings: () => ["inbox_settings"] as const,
  conversation: (conversationId: number) => ["conversation", conversationId] as const,
  delayNotice: (userId: string) => ["delay_notice", userId] as const,
  csat: (uuid: string) => ["csat", uuid] as const,
  interactive: (chatwootMessageId: number) => ["interactive", chatwootMessageId] as const,
  topicPick: (userId: string) => ["topic_pick", userId] as const,
  lastAgent: (conversationId: number) => ["last_agent", conversationId] as const,
  allLastAgent: () => ["last_agent"] as const,
  lastUser: (conversationId: number) => ["last_user", conversationId] as const,
  nudged: (conversationId: number) => ["nudged", conversationId] as const,
  fallbackThread: (userId: string) => ["fallback_thread", userId] as const,
  threadOwner: (threadId: string) => ["thread_owner", threadId] as const,
  dmsClosed: (userId: string) => ["dms_closed", userId] as const,
  notInServer: (userId: string) => ["not_in_server", userId] as const,
  gatewayLeader: () => ["gateway_leader"] as const,
  linkFromChatwoot: (chatwootMessageId: number) => ["link_cw", chatwootMessageId] as const,
  linkFromDiscord: (discordMessageId: string) => ["link_dc", discordMessageId] as const,
  once: (kind: string, id: string) => ["once", kind, id] as const,
  recentConversation: (conversationId: number) => ["recent_conversation", conversationId] as const,
  allRecentConversations: () => ["recent_conversation"] as const,
  recentDm: (userId: string) => ["recent_dm", userId] as const,
  allRecentDms: () => ["recent_dm"] as const,
  recentThread: (userId: string) => ["recent_thread", userId] as const,
  allRecentThreads: () => ["recent_thread"] as const,
};

/** Reads `[prefix, dir, userId, …]` (pending, lease, retry, mailbox and dead keys). */
export function ownerOfKey(key: Deno.KvKey): MailboxOwner {
  const [, dir, userId] = key;
  if ((dir !== "in" && dir !== "out") || typeof userId !== "string") {
    throw new Error(`not a mailbox key: ${String(key[0])}`);
  }
  return { dir, userId };
}

/** Reads the position out of a mailbox item or dead letter key. */
export function positionOfKey(key: Deno.KvKey): ItemPosition {
  const [seq, ...rest] = key.slice(3);
  const parts = rest.filter((part) => typeof part === "number" || typeof part === "bigint");
  if (typeof seq !== "bigint" || parts.length !== rest.length) {
    throw new Error(`not a mailbox item key: ${String(key[0])}`);
  }
  return [seq, ...parts];
}

/** The user's other mailbox. */
export function otherDirection(dir: Direction): Direction {
  return dir === "in" ? "out" : "in";
}

/**
 * Where the `n`-th follow-up of a mailbox item goes: in the user's other
 * mailbox, at `seq` (that mailbox's order for "now"), then the item's own
 * position (so that follow-ups of different items never share a key).
 */
export function followUpKey(itemKey: Deno.KvKey, seq: bigint, n: number): Deno.KvKey {
  const { dir, userId } = ownerOfKey(itemKey);
  return keys.mailboxItem(otherDirection(dir), userId, [seq, ...positionOfKey(itemKey), n]);
}

/** Where a mailbox item goes as a dead letter: same mailbox, same position (a retry puts it back). */
export function deadLetterKeyOf(itemKey: Deno.KvKey): Deno.KvKey {
  const { dir, userId } = ownerOfKey(itemKey);
  return keys.deadItem(dir, userId, positionOfKey(itemKey));
}
