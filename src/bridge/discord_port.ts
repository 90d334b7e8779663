/**
 * The Discord port: what the bridge core asks of Discord (adapter:
 * src/discord/rest_port.ts). Part of the ports (ports.ts re-exports it).
 */
import type { ComponentRow, MessageCard, NoticeButton, NoticeEmbed } from "./items.ts";
import type { DownloadOutcome, UploadFile } from "./files.ts";

export interface OutgoingDiscordMessage {
  content?: string;
  /** Rendered with the configured branding (colour by tone, footer, icon). */
  embed?: NoticeEmbed;
  button?: NoticeButton;
  /** Cards of an interactive message (after `embed`, at most 10 in all). */
  cards?: MessageCard[];
  /** Components of an interactive message (instead of `button`), at most 5 rows. */
  rows?: ComponentRow[];
  /** Discord drops a second message with the same nonce sent within a few minutes. */
  nonce?: string;
  /** Sent as a reply to this message (in the same channel). */
  replyTo?: string;
  files?: UploadFile[];
}

export interface DiscordChannelMessage {
  id: string;
  channelId: string;
  author: { id: string; username: string; globalName: string | null; bot: boolean };
  content: string;
}

export interface DiscordPort {
  /** Opens (or returns) the DM channel with a user. */
  openDmChannel(userId: string): Promise<string>;
  /** Opens a private thread (invite-only, archived after a week idle) in a server text channel. */
  openPrivateThread(parentChannelId: string, name: string): Promise<string>;
  /** Adds a user to a thread (Discord: 10007 when they are not in the server). */
  addThreadMember(threadId: string, userId: string): Promise<void>;
  /** Deletes a channel or thread the bot opened. */
  deleteChannel(channelId: string): Promise<void>;
  /** An authenticated read that proves Discord answers and accepts the token. */
  checkAccess(): Promise<void>;
  /** Sends a message that can never ping anyone. */
  sendMessage(channelId: string, message: OutgoingDiscordMessage): Promise<{ id: string }>;
  /**
   * Reacts with `emoji` to confirm a user's message reached the agents.
   * Best-effort and fire-and-forget: queued behind every request a mailbox
   * item makes, dropped when it waited too long or too many wait, never
   * retried; a failure is logged and counted, never thrown. Nothing waits on it.
   */
  confirmReceipt(channelId: string, messageId: string, emoji: string): void;
  /**
   * Downloads a file a user sent, only from Discord's CDN and at most
   * `maxBytes`. CDN links expire; an expired one is renewed by reading the
   * message again. Throws a non-retryable DiscordError when the file is gone.
   */
  downloadAttachment(
    attachment: { id: string; url: string; filename: string; contentType: string },
    where: { channelId: string; messageId: string },
    limits: { maxBytes: number },
  ): Promise<DownloadOutcome>;
  deleteMessage(channelId: string, messageId: string): Promise<void>;
  /**
   * Shows "<bot> is typing…" in a channel for about 10 seconds. Best-effort
   * and fire-and-forget, like confirmReceipt (ahead of confirmations).
   */
  startTyping(channelId: string): void;
  /** Messages in a channel after `afterId`, oldest first (at most `limit`). */

  listMessagesAfter(
    channelId: string,
    afterId: string,
    limit: number,
  ): Promise<DiscordChannelMessage[]>;

  editMessage(channelId: string, messageId: string, message: OutgoingDiscordMessage): Promise<void>;
}
