/** Conversation states and delay-notice flags in Deno KV. */
import type { ConversationState, ConversationStore } from "../bridge/ports.ts";
import { keys } from "./keys.ts";

export function createConversationStore(kv: Deno.Kv): ConversationStore {
  return {
    async get(conversationId) {
      return (await kv.get<ConversationState>(keys.conversation(conversationId))).value ??
        undefined;
    },
    async update(conversationId, change) {
      const key = keys.conversation(conversationId);
      for (;;) {
        const current = await kv.get<ConversationState>(key);
        const before = current.value ?? undefined;
        const after = change(before);
        const op = kv.atomic().check(current);
        if (after) op.set(key, after);
        else op.delete(key);
        if ((await op.commit()).ok) return { before, after };
      }
    },
    async markDelayNotified(userId) {
      const key = keys.delayNotice(userId);
      const res = await kv.atomic().check({ key, versionstamp: null }).set(key, Date.now())
        .commit();
      return res.ok;
    },
    async clearDelayNotified(userId) {
      await kv.delete(keys.delayNotice(userId));
    },
  };
}
