/**
 * Topic menus in Deno KV (bridge/topics.ts), one per user while a new ticket
 * waits for its topic. Kept a day past the deadline at most: a menu nobody
 * answered must not ask forever.
 */
import type { TopicPick, TopicPickStore } from "../bridge/prompts.ts";
import { keys } from "./keys.ts";

const KEEP_AFTER_DEADLINE_MS = 24 * 3600_000;

export function createTopicPickStore(kv: Deno.Kv, now: () => number = Date.now): TopicPickStore {
  const expireIn = (pick: TopicPick) => Math.max(1, pick.deadline - now() + KEEP_AFTER_DEADLINE_MS);
  return {
    async get(userId) {
      return (await kv.get<TopicPick>(keys.topicPick(userId))).value ?? undefined;
    },
    async start(userId, pick) {
      const key = keys.topicPick(userId);
      for (;;) {
        const current = await kv.get<TopicPick>(key);
        if (current.value) return current.value;
        const done = await kv.atomic().check(current).set(key, pick, { expireIn: expireIn(pick) })
          .commit();
        if (done.ok) return pick;
      }
    },
    async choose(userId, askedAt, label) {
      const key = keys.topicPick(userId);
      const current = await kv.get<TopicPick>(key);
      if (!current.value || current.value.askedAt !== askedAt || current.value.picked) {
        return false;
      }
      const picked = { ...current.value, picked: label };
      return (await kv.atomic().check(current).set(key, picked, { expireIn: expireIn(picked) })
        .commit()).ok;
    },
    async clear(userId) {
      await kv.delete(keys.topicPick(userId));
    },
  };
}
