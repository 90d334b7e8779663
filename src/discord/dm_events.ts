/**
 * Direct-message gateway events, read from Discord's raw JSON (zod, loosely)
 * and turned into the bridge's plain data: a DM, an edit, a deletion, typing.
 * Guild messages and messages from bots are not DMs and yield nothing.
 *
 * Discord markup an agent could not read is made readable here: user
 * mentions become `@name`, custom emoji `:name:`, timestamps a date.
 */
import type { DmAttachment, InboundDm } from "../bridge/items.ts";
import { avatarUrl } from "@discordeno/bot";
import { z } from "zod";

const userSchema = z.object({
  id: z.string(),
  username: z.string(),
  global_name: z.string().nullish(),
  avatar: z.string().nullish(),
  discriminator: z.string().nullish(),
  bot: z.boolean().nullish(),
});

const messageSchema = z.object({
  id: z.string(),
  channel_id: z.string(),
  guild_id: z.string().nullish(),
  author: userSchema,
  content: z.string().nullish(),
  edited_timestamp: z.string().nullish(),
  mentions: z.array(userSchema.partial({ username: true })).nullish(),
  message_reference: z.object({ message_id: z.string().nullish() }).nullish(),
  attachments: z.array(z.object({
    id: z.string(),
    filename: z.string(),
    url: z.string(),
    content_type: z.string().nullish(),
    size: z.number(),
  })).nullish(),
  sticker_items: z.array(z.object({
    id: z.string(),
    name: z.string(),
    format_type: z.number(),
  })).nullish(),
});

const deleteSchema = z.object({
  id: z.string(),
  channel_id: z.string(),
  guild_id: z.string().nullish(),
});

const typingSchema = z.object({
  channel_id: z.string(),
  user_id: z.string(),
  guild_id: z.string().nullish(),
});

/**
 * A raw MESSAGE_CREATE that is a human's DM to the bot, else undefined. With
 * `inServers`, a server message is read too (marked `inThread`): the caller
 * keeps it only when it is in the author's fallback thread.
 */
export function parseDm(
  raw: unknown,
  botId: string,
  receivedAt = Date.now(),
  cdnBase = "https://media.discordapp.net",
  inServers = false,
): InboundDm | undefined {
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const m = parsed.data;
  if ((m.guild_id && !inServers) || m.author.bot || m.author.id === botId) return undefined;
  const attachments: DmAttachment[] = (m.attachments ?? []).map((a) => ({
    id: a.id,
    filename: a.filename,
    url: a.url,
    contentType: a.content_type ?? "application/octet-stream",
    size: a.size,
  }));
  for (const s of m.sticker_items ?? []) {
    // Lottie stickers (format 3) have no image; the name still says what was sent.
    if (s.format_type === 3) continue;
    const ext = s.format_type === 4 ? "gif" : "png";
    attachments.push({
      id: s.id,
      filename: `${s.name}.${ext}`,
      url: `${cdnBase}/stickers/${s.id}.${ext}`,

      contentType: `image/${ext}`,
      size: 0,
    });
  }
  const stickers = (m.sticker_items ?? []).map((s) => `[Sticker: ${s.name}]`);
  const text = readableContent(m.content ?? "", m.mentions ?? []);
  return {
    kind: "dm",
    messageId: m.id,
    channelId: m.channel_id,
    author: {
      id: m.author.id,
      username: m.author.username,
      globalName: m.author.global_name ?? null,
      avatarUrl: m.author.avatar
        ? avatarUrl(BigInt(m.author.id), m.author.discriminator ?? "0", { avatar: m.author.avatar })
        : null,
    },
    content: [text, ...stickers].filter((t) => t !== "").join("\n"),
    ...(m.message_reference?.message_id ? { replyTo: m.message_reference.message_id } : {}),
    ...(attachments.length ? { attachments } : {}),
    ...(m.guild_id ? { inThread: true } : {}),
    receivedAt,
  };
}

/** A raw MESSAGE_UPDATE that is a user's edit of their DM text. */
export function parseDmEdit(
  raw: unknown,
  botId: string,
  inServers = false,
):
  | {
    messageId: string;
    channelId: string;
    userId: string;
    content: string;
    editedAt: number;
    inThread?: true;
  }
  | undefined {
  const parsed = messageSchema.partial({ author: true }).safeParse(raw);
  if (!parsed.success) return undefined;
  const m = parsed.data;
  if (m.guild_id && !inServers) return undefined;
  // Embed unfurls also arrive as updates, without an edit time (and often without content).
  if (!m.edited_timestamp || m.content == null || !m.author) return undefined;
  if (m.author.bot || m.author.id === botId) return undefined;
  return {
    messageId: m.id,
    channelId: m.channel_id,
    userId: m.author.id,
    content: readableContent(m.content, m.mentions ?? []),
    editedAt: Date.parse(m.edited_timestamp),
    ...(m.guild_id ? { inThread: true as const } : {}),
  };
}

export function parseDmDelete(
  raw: unknown,
  inServers = false,
): { messageId: string; channelId: string; inThread?: true } | undefined {
  const parsed = deleteSchema.safeParse(raw);
  if (!parsed.success || (parsed.data.guild_id && !inServers)) return undefined;
  return {
    messageId: parsed.data.id,
    channelId: parsed.data.channel_id,
    ...(parsed.data.guild_id ? { inThread: true as const } : {}),
  };
}

export function parseDmTyping(raw: unknown): { channelId: string; userId: string } | undefined {
  const parsed = typingSchema.safeParse(raw);
  if (!parsed.success || parsed.data.guild_id) return undefined;
  return { channelId: parsed.data.channel_id, userId: parsed.data.user_id };
}

/** Discord markup → what an agent can read. */
export function readableContent(
  content: string,
  mentions: { id: string; username?: string; global_name?: string | null }[],
): string {
  const names = new Map(mentions.map((u) => [u.id, u.global_name || u.username || "unknown-user"]));
  return content
    .replace(/<@!?(\d+)>/g, (_m, id: string) => `@${names.get(id) ?? "unknown-user"}`)
    .replace(/<@&(\d+)>/g, "@role")
    .replace(/<#(\d+)>/g, "#channel")
    .replace(/<a?:(\w+):\d+>/g, ":$1:")
    .replace(
      /<t:(-?\d+)(?::[tTdDfFR])?>/g,
      (_m, s: string) => new Date(Number(s) * 1000).toISOString(),
    );
}
