/** The DiscordPort over Discordeno's REST helpers. */
import type { DiscordPort, Logger, OutgoingDiscordMessage } from "../bridge/ports.ts";
import { ChannelTypes } from "@discordeno/bot";
import type { BrandingConfig } from "../config.ts";
import {
  boundedDownload,
  DownloadNetworkError,
  type DownloadResult,
  downloadTimeoutMs,
  refusedOutcome,
} from "../net/bounded_download.ts";
import { renderButtonRow, renderCards, renderEmbed, renderRows } from "./embeds.ts";
import { DiscordError, toDiscordError } from "./errors.ts";
import {
  type BestEffortClass,
  createRequestScheduler,
  type DropReason,
  type RequestSchedulerSettings,
} from "./request_scheduler.ts";

import type { DiscordBot } from "./gateway.ts";

/** The origins Discord serves attachments and stickers from. */
export const DISCORD_CDN_ORIGINS = ["https://cdn.discordapp.com", "https://media.discordapp.net"];

export interface DiscordDownloadOptions {
  /** More origins user files may come from (DISCORD_CDN_URL's, for a test CDN). */
  cdnOrigins?: readonly string[];
  /** Time allowed for a download of this many bytes (default: downloadTimeoutMs). */
  timeoutMs?: (bytes: number) => number;
}

export interface DiscordRestOptions {
  downloads?: DiscordDownloadOptions;
  /** The request scheduler's budget, ages and caps (request_scheduler.ts has the defaults). */
  requests?: RequestSchedulerSettings;
  /** Counts a best-effort request (✅, typing) dropped: stale, queue full, or failed. */
  countDropped?(cls: BestEffortClass, reason: DropReason): void;
  /** Where a failed best-effort request is logged (at debug). */
  log?: Logger;
}

/** The DiscordPort, plus `stop` for shutdown (drops what still waits for a slot). */
export type DiscordRest = DiscordPort & { stop(): void };

export function createDiscordRest(
  bot: DiscordBot,
  branding: BrandingConfig,
  fetchImpl: typeof fetch = fetch,
  options: DiscordRestOptions = {},
): DiscordRest {
  const downloads = options.downloads ?? {};
  // Every request under the global limit gets its slot here; see request_scheduler.ts.
  const requests = createRequestScheduler({
    ...options.requests,
    onDropped: (cls, reason) => options.countDropped?.(cls, reason),
  });
  /** A best-effort request: a failure is logged at debug and rethrown to be counted. */
  const bestEffort =
    (what: string, fields: Record<string, string>, send: () => Promise<unknown>) => async () => {
      try {
        await send();
      } catch (error) {
        options.log?.debug(`${what} not shown`, {
          ...fields,
          error: toDiscordError(error, what).message,
        });
        throw error;
      }
    };
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
    ...(message.embed || message.cards?.length
      ? {
        embeds: [
          ...(message.embed ? [renderEmbed(message.embed, branding)] : []),
          ...renderCards(message.cards ?? [], branding),
        ],
      }
      : {}),
    ...(message.button ? { components: [renderButtonRow(message.button)] } : {}),
    ...(message.rows ? { components: renderRows(message.rows) } : {}),
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
        await requests.take();
        await bot.rest.getGatewayBot();
      } catch (error) {
        throw toDiscordError(error, "token check");
      }
    },
    async openDmChannel(userId) {
      try {
        await requests.take();
        const channel = await bot.helpers.getDmChannel(BigInt(userId));
        return channel.id.toString();
      } catch (error) {
        throw toDiscordError(error, `opening a DM with user ${userId}`);
      }
    },
    async openPrivateThread(parentChannelId, name) {
      try {
        await requests.take();
        const thread = await bot.helpers.startThreadWithoutMessage(BigInt(parentChannelId), {
          name: name.slice(0, 100),
          type: ChannelTypes.PrivateThread,
          autoArchiveDuration: 10080,
          invitable: false,
        });
        return thread.id.toString();
      } catch (error) {
        throw toDiscordError(error, `opening a thread in channel ${parentChannelId}`);
      }
    },
    async addThreadMember(threadId, userId) {
      try {
        await requests.take();
        await bot.helpers.addThreadMember(BigInt(threadId), BigInt(userId));
      } catch (error) {
        throw toDiscordError(error, `adding user ${userId} to thread ${threadId}`);
      }
    },
    async deleteChannel(channelId) {
      try {
        await requests.take();
        await bot.helpers.deleteChannel(BigInt(channelId));
      } catch (error) {
        throw toDiscordError(error, `deleting channel ${channelId}`);
      }
    },
    async sendMessage(channelId, message) {
      try {
        await requests.take();
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
          await requests.take();
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
        await requests.take();
        await bot.helpers.deleteMessage(BigInt(channelId), BigInt(messageId));
      } catch (error) {
        const failure = toDiscordError(error, `deleting message ${messageId}`);
        if (failure.code !== 10008) throw failure; // already gone is what we wanted
      }
    },
    startTyping(channelId) {
      requests.offer(
        "typing",
        bestEffort(
          "typing indicator",
          { channelId },
          () => bot.helpers.triggerTypingIndicator(BigInt(channelId)),
        ),
      );
    },
    async editMessage(channelId, messageId, message) {
      try {
        await requests.take();
        await bot.helpers.editMessage(BigInt(channelId), BigInt(messageId), body(message));
      } catch (error) {
        throw toDiscordError(error, `editing message ${messageId}`);
      }
    },
    async listMessagesAfter(channelId, afterId, limit) {
      try {
        await requests.take();
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
    confirmReceipt(channelId, messageId, emoji) {
      requests.offer(
        "confirmation",
        bestEffort(
          "confirmation reaction",
          { channelId, discordMessageId: messageId },
          () => bot.helpers.addReaction(BigInt(channelId), BigInt(messageId), emoji),
        ),
      );
    },
    stop() {
      requests.stop();
    },
  };
}
