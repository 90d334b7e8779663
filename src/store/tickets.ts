/** Ticket records and DM channels in Deno KV. */
import type { TicketRecord, TicketStore } from "../bridge/ports.ts";
import { keys } from "./keys.ts";
import type { KvRecord } from "./records.ts";

/** The user's DM channel, both ways (written with a DM's completion, or when opened). */
export function dmChannelRecords(userId: string, channelId: string): KvRecord[] {
  return [
    { key: keys.dmChannel(userId), value: channelId },
    { key: keys.dmChannelUser(channelId), value: userId },
  ];
}

export function createTicketStore(kv: Deno.Kv): TicketStore {
  return {
    async get(userId) {
      return (await kv.get<TicketRecord>(keys.ticket(userId))).value ?? undefined;
    },
    async save(record) {
      await kv.set(keys.ticket(record.userId), record);
    },
    async getDmChannel(userId) {
      return (await kv.get<string>(keys.dmChannel(userId))).value ?? undefined;
    },
    async saveDmChannel(userId, channelId) {
      const op = kv.atomic();
      for (const r of dmChannelRecords(userId, channelId)) op.set(r.key, r.value);
      await op.commit();
    },
    async userForDmChannel(channelId) {
      return (await kv.get<string>(keys.dmChannelUser(channelId))).value ?? undefined;
    },
  };
}
