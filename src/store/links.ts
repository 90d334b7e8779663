/** Message links (Chatwoot message id ↔ Discord message ids) and one-time flags in Deno KV. */
import type { MessageLinks } from "../bridge/ports.ts";
import { keys } from "./keys.ts";

/** Links outlive any retry or reconciliation window by far. */
export const LINK_TTL_MS = 90 * 24 * 3600_000;

export function createMessageLinks(kv: Deno.Kv): MessageLinks {
  return {
    async discordFor(chatwootMessageId) {
      return (await kv.get<string[]>(keys.linkFromChatwoot(chatwootMessageId))).value ?? undefined;
    },
    async link(chatwootMessageId, discordMessageIds) {
      const op = kv.atomic().set(keys.linkFromChatwoot(chatwootMessageId), discordMessageIds, {
        expireIn: LINK_TTL_MS,
      });
      for (const id of discordMessageIds) {
        op.set(keys.linkFromDiscord(id), chatwootMessageId, { expireIn: LINK_TTL_MS });
      }
      await op.commit();
    },
    async chatwootFor(discordMessageId) {
      return (await kv.get<number>(keys.linkFromDiscord(discordMessageId))).value ?? undefined;
    },
    async once(kind, id) {
      const key = keys.once(kind, id);
      const res = await kv.atomic().check({ key, versionstamp: null }).set(key, Date.now(), {
        expireIn: LINK_TTL_MS,
      }).commit();
      return res.ok;
    },
  };
}
