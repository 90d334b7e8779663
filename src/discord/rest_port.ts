/** The DiscordPort over Discordeno's REST helpers. */
import type { DiscordPort, OutgoingDiscordMessage } from "../bridge/ports.ts";
import type { BrandingConfig } from "../config.ts";
import {
  boundedDownload,
  DownloadNetworkError,
  type DownloadResult,
  downloadTimeoutMs,
  refusedOutcome,
} from "../net/bounded_download.ts";
import { renderButtonRow, renderEmbed } from "./embeds.ts";
import { DiscordError, toDiscordError } from "./errors.ts";
import { createPacer } from "./pacer.ts";

import type { DiscordBot } from "./gateway.ts";

/** Stays under Discord's global limit of 50 requests per second, with room for network jitter. */
export const DISCORD_REQUESTS_PER_SECOND = 45;

/** The origins Discord serves attachments and stickers from. */
export const DISCORD_CDN_ORIGINS = ["https://cdn.discordapp.com", "https://media.discordapp.net"];

export interface DiscordDownloadOptions {
  /** More origins user files may come from (DISCORD_CDN_URL's, for a test CDN). */
  cdnOrigins?: readonly string[];
  /** Time allowed for a download of this many bytes (default: downloadTimeoutMs). */
  timeoutMs?: (bytes: number) => number;
}

export function createDiscordRest(
  bot: DiscordBot,
  branding: BrandingConfig,
  fetchImpl: typeof fetch = fetch,
  pacer = createPacer(DISCORD_REQUESTS_PER_SECOND),
  downloads: DiscordDownloadOptions = {},
): DiscordPort {
  const cdnOrigins = [...DISCORD_CDN_ORIGINS, ...(downloads.cdnOrigins ?? [])];
  /** GETs a CDN file, bounded; undefined when the link is expired or gone (403/404/410). */
  const fetchFile = async (url: string, what: string, maxBytes: number) => {
    let result: DownloadResult;
    try {
      result = await boundedDownload(url, {
        allowedOrigins: cdnOrigins,
        maxBytes,
        timeoutMs: (downloads.timeoutMs ?? downloadTimeoutMs)(maxBytes),
        fetch: fetchImpl,
      });
    } catch (error) {
      if (!(error instanceof DownloadNetworkError)) throw error;
      throw new DiscordError(0, undefined, `Discord ${what} failed: ${error.message}`);
    }
    if (result.kind !== "status") return result;
    if ([403, 404, 410].includes(result.status)) return undefined;
    throw new DiscordError(
      result.status,
      undefined,
      `Discord ${what} failed with HTTP ${result.status}`,
    );
  };
  const body = (message: OutgoingDiscordMessage) => ({
    ...(message.content !== undefined ? { content: message.content } : {}),
    ...(message.embed ? { embeds: [renderEmbed(message.embed, branding)] } : {}),
    ...(message.button ? { components: [renderButtonRow(message.button)] } : {}),
    ...(message.files?.length
      ? {
        files: message.files.map((f) => ({
          name: f.name,
          blob: new Blob([f.bytes], { type: f.contentType }),
        })),
      }
      : {}),
    // Nothing the bridge sends may ping anyone.
    allowedMentions: { parse: [] },
  });
  return {
    async checkAccess() {
      try {
        await pacer.take();
        await bot.rest.getGatewayBot();
      } catch (error) {
        throw toDiscordError(error, "token check");
      }
    },
    async openDmChannel(userId) {
      try {
        await pacer.take();
        const channel = await bot.helpers.getDmChannel(BigInt(userId));
        return channel.id.toString();
      } catch (error) {
        throw toDiscordError(error, `opening a DM with user ${userId}`);
      }
    },
    async sendMessage(channelId, message) {
      try {
        await pacer.take();
        const sent = await bot.helpers.sendMessage(BigInt(channelId), {
          ...body(message),
          ...(message.nonce ? { nonce: message.nonce, enforceNonce: true } : {}),
          ...(message.replyTo
            ? { messageReference: { messageId: BigInt(message.replyTo), failIfNotExists: false } }
            : {}),
        });
        return { id: sent.id.toString() };
      } catch (error) {
        throw toDiscordError(error, `sending a message to channel ${channelId}`);
      }
    },
    async downloadAttachment(attachment, where, limits) {
      const what = `download of ${attachment.filename}`;
      let file = await fetchFile(attachment.url, what, limits.maxBytes);
      if (!file) {
        // Signed CDN links expire: reading the message again gives fresh ones.
        let fresh: string | undefined;
        try {
          await pacer.take();
          const message = await bot.helpers.getMessage(
            BigInt(where.channelId),
            BigInt(where.messageId),
          );
          fresh = message.attachments?.find((a) => a.id.toString() === attachment.id)?.url;
        } catch (error) {
          const failure = toDiscordError(error, `re-reading message ${where.messageId}`);
          if (failure.retryable) throw failure;
        }
        file = fresh ? await fetchFile(fresh, what, limits.maxBytes) : undefined;
        if (!file) {
          throw new DiscordError(404, undefined, `Discord ${what} failed: the file is gone`);
        }
      }
      if (file.kind === "refused") return refusedOutcome(file);
      return {
        file: {
          name: attachment.filename,
          contentType: file.contentType ?? attachment.contentType,
          bytes: file.bytes,
        },
      };
    },
    async deleteMessage(channelId, messageId) {
      try {
        await pacer.take();
        await bot.helpers.deleteMessage(BigInt(channelId), BigInt(messageId));
      } catch (error) {
        const failure = toDiscordError(error, `deleting message ${messageId}`);
        if (failure.code !== 10008) throw failure; // already gone is what we wanted
      }
    },
    async startTyping(channelId) {
      try {
        await pacer.take();
        await bot.helpers.triggerTypingIndicator(BigInt(channelId));
      } catch (error) {
        throw toDiscordError(error, `typing in channel ${channelId}`);
      }
    },
    async editMessage(channelId, messageId, message) {
      try {
        await pacer.take();
        await bot.helpers.editMessage(BigInt(channelId), BigInt(messageId), body(message));
      } catch (error) {
        throw toDiscordError(error, `editing message ${messageId}`);
      }
    },
    async listMessagesAfter(channelId, afterId, limit) {
      try {
        await pacer.take();
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
        await pacer.take();
        await bot.helpers.addReaction(BigInt(channelId), BigInt(messageId), emoji);
      } catch (error) {
        throw toDiscordError(error, `reacting to message ${messageId}`);
      }
    },
  };
}
