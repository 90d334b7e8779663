/** Message links (Chatwoot message id ↔ Discord message ids) and one-time flags in Deno KV. */
import type { MessageLinks } from "../bridge/ports.ts";
import { keys } from "./keys.ts";
import type { KvRecord } from "./records.ts";

/** Links outlive any retry or reconciliation window by far. */
const LINK_TTL_MS = 90 * 24 * 3600_000;

/** A Chatwoot message and the Discord messages that carry it, linked both ways. */
export function linkRecords(chatwootMessageId: number, discordMessageIds: string[]): KvRecord[] {
  if (discordMessageIds.length === 0) return [];
  return [
    {
      key: keys.linkFromChatwoot(chatwootMessageId),
      value: discordMessageIds,
      expireIn: LINK_TTL_MS,
    },
    ...discordMessageIds.map((id) => ({
      key: keys.linkFromDiscord(id),
      value: chatwootMessageId,
      expireIn: LINK_TTL_MS,
    })),
  ];
}

export function createMessageLinks(kv: Deno.Kv): MessageLinks {
  return {
    async discordFor(chatwootMessageId) {
      return (await kv.get<string[]>(keys.linkFromChatwoot(chatwootMessageId))).value ?? undefined;
    },
    async link(chatwootMessageId, discordMessageIds) {
      const op = kv.atomic();
      for (const r of linkRecords(chatwootMessageId, discordMessageIds)) {
        op.set(r.key, r.value, { expireIn: r.expireIn });
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
