/** Ticket records and DM channels in Deno KV. */
import type { TicketRecord, TicketStore } from "../bridge/ports.ts";
import { keys } from "./keys.ts";

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
      await kv.atomic().set(keys.dmChannel(userId), channelId)
        .set(keys.dmChannelUser(channelId), userId).commit();
    },
    async userForDmChannel(channelId) {
      return (await kv.get<string>(keys.dmChannelUser(channelId))).value ?? undefined;
    },
  };
}
