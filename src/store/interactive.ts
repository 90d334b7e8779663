/** Interactive prompts in Deno KV, kept 30 days: an answer after that finds nothing to answer. */
import type { InteractivePrompt, InteractiveStore } from "../bridge/prompts.ts";
import { keys } from "./keys.ts";
import { ANSWERABLE_FOR_MS } from "./records.ts";

export function createInteractiveStore(kv: Deno.Kv): InteractiveStore {
  return {
    async get(chatwootMessageId) {
      return (await kv.get<InteractivePrompt>(keys.interactive(chatwootMessageId))).value ??
        undefined;
    },
    async recordOnce(prompt) {
      const key = keys.interactive(prompt.chatwootMessageId);
      await kv.atomic().check({ key, versionstamp: null }).set(key, prompt, {
        expireIn: ANSWERABLE_FOR_MS,
      })
        .commit();
    },
    async update(chatwootMessageId, change) {
      const key = keys.interactive(chatwootMessageId);
      for (;;) {
        const current = await kv.get<InteractivePrompt>(key);
        if (!current.value) return undefined;
        const next = change(current.value);
        const done = await kv.atomic().check(current).set(key, next, {
          expireIn: ANSWERABLE_FOR_MS,
        })
          .commit();
        if (done.ok) return next;
      }
    },
  };
}
