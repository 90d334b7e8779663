/** Fallback threads and closed DMs in Deno KV (bridge/fallback.ts). */
import { DM_RETRY_MS, type FallbackThreads } from "../bridge/fallback.ts";
import { keys } from "./keys.ts";

export function createFallbackThreads(
  kv: Deno.Kv,
  options: { retryMs?: number; now?: () => number; recentWindowMs?: number } = {},
): FallbackThreads {
  const retryMs = options.retryMs ?? DM_RETRY_MS;
  const now = options.now ?? Date.now;
  return {
    async threadOf(userId) {
      return (await kv.get<{ threadId: string; conversationId?: number }>(
        keys.fallbackThread(userId),
      )).value ?? undefined;
    },
    async save(userId, threadId, conversationId) {
      await kv.atomic()
        .set(keys.fallbackThread(userId), {
          threadId,
          ...(conversationId !== undefined ? { conversationId } : {}),
        })
        .set(keys.threadOwner(threadId), userId)
        // The catch-up of missed messages reads a new thread from its start.
        .set(
          keys.recentThread(userId),
          { channelId: threadId, messageId: threadId, at: now() },
          { expireIn: options.recentWindowMs ?? 72 * 3600_000 },
        )
        .commit();
    },
    async forget(userId) {
      await kv.delete(keys.fallbackThread(userId));
    },
    async ownerOf(threadId) {
      return (await kv.get<string>(keys.threadOwner(threadId))).value ?? undefined;
    },
    async dmsClosed(userId) {
      // KV expiry is lazy: the time decides.
      const at = (await kv.get<number>(keys.dmsClosed(userId))).value;
      return at !== null && now() - at < retryMs;
    },
    async markDmsClosed(userId) {
      await kv.set(keys.dmsClosed(userId), now(), { expireIn: retryMs });
    },
    async markDmsOpen(userId) {
      // Called for every DM: a read, and a write only for the rare user whose DMs were closed.
      const closed = await kv.get(keys.dmsClosed(userId));
      if (closed.value !== null) await kv.atomic().check(closed).delete(closed.key).commit();
    },
    async notInServer(userId) {
      const at = (await kv.get<number>(keys.notInServer(userId))).value;
      return at !== null && now() - at < retryMs;
    },
    async markNotInServer(userId) {
      await kv.set(keys.notInServer(userId), now(), { expireIn: retryMs });
    },
  };
}
