/** The DiscordPort over Discordeno's REST helpers. */
import type { DiscordPort } from "../bridge/ports.ts";
import { toDiscordError } from "./errors.ts";
import type { DiscordBot } from "./gateway.ts";

export function createDiscordRest(bot: DiscordBot): DiscordPort {
  return {
    async openDmChannel(userId) {
      try {
        const channel = await bot.helpers.getDmChannel(BigInt(userId));
        return channel.id.toString();
      } catch (error) {
        throw toDiscordError(error, `opening a DM with user ${userId}`);
      }
    },
    async sendMessage(channelId, message) {
      try {
        const sent = await bot.helpers.sendMessage(BigInt(channelId), {
          content: message.content,
          // Nothing an agent writes may ping anyone.
          allowedMentions: { parse: [] },
          ...(message.nonce ? { nonce: message.nonce, enforceNonce: true } : {}),
        });
        return { id: sent.id.toString() };
      } catch (error) {
        throw toDiscordError(error, `sending a message to channel ${channelId}`);
      }
    },
    async addReaction(channelId, messageId, emoji) {
      try {
        await bot.helpers.addReaction(BigInt(channelId), BigInt(messageId), emoji);
      } catch (error) {
        throw toDiscordError(error, `reacting to message ${messageId}`);
      }
    },
  };
}
