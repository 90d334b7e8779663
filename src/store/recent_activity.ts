/**
 * Recent activity, kept for RECONCILE_WINDOW_HOURS: the conversations agents
 * may have written in (read back by the reconciliation of missed webhooks) and
 * each user's last DM (the catch-up reads their DM channel after it). Written
 * with the items that make it (see completions.ts), read by recovery.ts.
 */
import { keys } from "./keys.ts";

export interface RecentConversation {
  userId: string;
  at: number;
}

export interface RecentDm {
  channelId: string;
  messageId: string;
  at: number;
}

/** A record written with the item that makes it (`expireIn`: the reconciliation window). */
export interface ActivityRecord {
  key: Deno.KvKey;
  value: RecentConversation | RecentDm;
  expireIn: number;
}

export interface RecentActivity {
  /** Most recent first, at most `max`, none older than `sinceMs`. */
  conversations(
    sinceMs: number,
    max: number,
  ): Promise<{ conversationId: number; value: RecentConversation }[]>;
  dms(sinceMs: number, max: number): Promise<{ userId: string; value: RecentDm }[]>;
  /** The same for users' fallback threads (FALLBACK_CHANNEL_ID). */
  threads(sinceMs: number, max: number): Promise<{ userId: string; value: RecentDm }[]>;
}

export function createRecentActivity(kv: Deno.Kv): RecentActivity {
  return {
    async conversations(sinceMs, max) {
      const found = await mostRecent<RecentConversation>(
        kv,
        keys.allRecentConversations(),
        sinceMs,
        max,
      );
      return found.flatMap(({ key, value }) => {
        const conversationId = key[1];
        return typeof conversationId === "number" ? [{ conversationId, value }] : [];
      });
    },
    dms: (sinceMs, max) => byUser(kv, keys.allRecentDms(), sinceMs, max),
    threads: (sinceMs, max) => byUser(kv, keys.allRecentThreads(), sinceMs, max),
  };
}

async function byUser(kv: Deno.Kv, prefix: Deno.KvKey, sinceMs: number, max: number) {
  const found = await mostRecent<RecentDm>(kv, prefix, sinceMs, max);
  return found.flatMap(({ key, value }) => {
    const userId = key[1];
    return typeof userId === "string" ? [{ userId, value }] : [];
  });
}

async function mostRecent<T extends { at: number }>(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
  sinceMs: number,
  max: number,
): Promise<{ key: Deno.KvKey; value: T }[]> {
  const found: { key: Deno.KvKey; value: T }[] = [];
  for await (const e of kv.list<T>({ prefix })) {
    if (e.value.at >= sinceMs) found.push({ key: e.key, value: e.value });
  }
  return found.sort((a, b) => b.value.at - a.value.at).slice(0, max);
}

/** The conversation had a message relayed now. */
export function conversationActivity(
  conversationId: number,
  userId: string,
  at: number,
  windowMs: number,
): ActivityRecord {
  const value: RecentConversation = { userId, at };
  return { key: keys.recentConversation(conversationId), value, expireIn: windowMs };
}

/** The user's last DM forwarded, in its DM channel (or in their fallback thread). */
export function dmActivity(
  userId: string,
  dm: { channelId: string; messageId: string; inThread?: true },
  at: number,
  windowMs: number,
): ActivityRecord {
  const value: RecentDm = { channelId: dm.channelId, messageId: dm.messageId, at };
  const key = dm.inThread ? keys.recentThread(userId) : keys.recentDm(userId);
  return { key, value, expireIn: windowMs };
}
