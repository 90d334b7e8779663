/**
 * Who spoke last in each conversation, for the stale-ticket check-in
 * (NUDGE_AFTER_HOURS, bridge/nudges.ts): an agent's reply delivered and the
 * user's message forwarded are recorded with the items that make them (see
 * completions.ts); a check-in sent is recorded once. Kept 30 days.
 */
import type { AnswerWaits } from "../bridge/nudges.ts";
import { keys } from "./keys.ts";
import { ANSWERABLE_FOR_MS, type KvRecord } from "./records.ts";

export function agentRepliedRecord(conversationId: number, userId: string, at: number): KvRecord {
  return {
    key: keys.lastAgent(conversationId),
    value: { userId, at },
    expireIn: ANSWERABLE_FOR_MS,
  };
}

export function userWroteRecord(conversationId: number, at: number): KvRecord {
  return { key: keys.lastUser(conversationId), value: at, expireIn: ANSWERABLE_FOR_MS };
}

export function createAnswerWaits(kv: Deno.Kv): AnswerWaits {
  return {
    async *agentLastBefore(beforeMs, max) {
      let seen = 0;
      for await (
        const e of kv.list<{ userId: string; at: number }>({ prefix: keys.allLastAgent() })
      ) {
        const conversationId = e.key[1];
        if (typeof conversationId !== "number") continue;
        if (++seen > max) return;
        if (e.value.at > beforeMs) continue;
        const [user, nudged] = await kv.getMany<[number, number]>([
          keys.lastUser(conversationId),
          keys.nudged(conversationId),
        ]);
        // The user answered since, or was checked in with since their last message: no wait.
        if (
          (user.value !== null && user.value >= e.value.at) ||
          (nudged.value !== null && nudged.value > (user.value ?? 0))
        ) {
          await kv.atomic().check(e).delete(e.key).commit();
          continue;
        }
        yield { conversationId, userId: e.value.userId, agentAt: e.value.at };
      }
    },
    async settle(conversationId, agentAt) {
      const key = keys.lastAgent(conversationId);
      const current = await kv.get<{ at: number }>(key);
      if (current.value?.at !== agentAt) return;
      await kv.atomic().check(current).delete(key).commit();
    },
    async markNudged(conversationId, at) {
      const key = keys.nudged(conversationId);
      return (await kv.atomic().check({ key, versionstamp: null }).set(key, at, {
        expireIn: ANSWERABLE_FOR_MS,
      }).commit()).ok || await replaceOlder(kv, key, at);
    },
  };
}

/** A check-in recorded before the user's last message gives way to this one. */
async function replaceOlder(kv: Deno.Kv, key: Deno.KvKey, at: number): Promise<boolean> {
  const current = await kv.get<number>(key);
  if (current.value !== null && current.value >= at) return false;
  return (await kv.atomic().check(current).set(key, at, { expireIn: ANSWERABLE_FOR_MS }).commit())
    .ok;
}
