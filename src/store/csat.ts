/** CSAT prompts in Deno KV, kept for 30 days (Chatwoot accepts ratings for 14). */
import type { CsatPrompt, CsatStore } from "../bridge/ports.ts";
import { keys } from "./keys.ts";
import { ANSWERABLE_FOR_MS } from "./records.ts";

export function createCsatStore(kv: Deno.Kv): CsatStore {
  return {
    async get(uuid) {
      return (await kv.get<CsatPrompt>(keys.csat(uuid))).value ?? undefined;
    },
    async save(prompt) {
      await kv.set(keys.csat(prompt.uuid), prompt, { expireIn: ANSWERABLE_FOR_MS });
    },
  };
}
