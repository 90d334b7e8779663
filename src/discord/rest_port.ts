/** The DiscordPort over Discordeno's REST helpers. */
import type { DiscordPort, OutgoingDiscordMessage } from "../bridge/ports.ts";
import type { BrandingConfig } from "../config.ts";
import { renderButtonRow, renderEmbed } from "./embeds.ts";
import { toDiscordError } from "./errors.ts";
import type { DiscordBot } from "./gateway.ts";

export function createDiscordRest(bot: DiscordBot, branding: BrandingConfig): DiscordPort {
  const body = (message: OutgoingDiscordMessage) => ({
    ...(message.content !== undefined ? { content: message.content } : {}),
    ...(message.embed ? { embeds: [renderEmbed(message.embed, branding)] } : {}),
    ...(message.button ? { components: [renderButtonRow(message.button)] } : {}),
    // Nothing the bridge sends may ping anyone.
    allowedMentions: { parse: [] },
  });
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
          ...body(message),
          ...(message.nonce ? { nonce: message.nonce, enforceNonce: true } : {}),
        });
        return { id: sent.id.toString() };
      } catch (error) {
        throw toDiscordError(error, `sending a message to channel ${channelId}`);
      }
    },
    async editMessage(channelId, messageId, message) {
      try {
        await bot.helpers.editMessage(BigInt(channelId), BigInt(messageId), body(message));
      } catch (error) {
        throw toDiscordError(error, `editing message ${messageId}`);
      }
    },
    async listMessagesAfter(channelId, afterId, limit) {
      try {
        const messages = await bot.helpers.getMessages(BigInt(channelId), {
          after: BigInt(afterId),
          limit,
        });
        return messages.map((m) => ({
          id: m.id.toString(),
          channelId: m.channelId.toString(),
          author: {
            id: m.author.id.toString(),
            username: m.author.username,
            globalName: m.author.globalName ?? null,
            bot: m.author.bot ?? false,
          },
          content: m.content ?? "",
        })).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      } catch (error) {
        throw toDiscordError(error, `reading messages of channel ${channelId}`);
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
