/**
 * An in-memory Discord (DiscordPort) for use-case tests: it keeps every
 * message the bot sent, reaction, deletion and edit, and every method called;
 * `failNext(method, ...outcomes)` makes the next calls fail (an error) or
 * answer (null). A user's DM channel is `dm-<userId>`.
 */
import type {
  DiscordChannelMessage,
  DiscordPort,
  DownloadOutcome,
  OutgoingDiscordMessage,
} from "../../src/bridge/ports.ts";
import { DiscordFailure, Faults } from "./service_failures.ts";

export interface SentMessage {
  id: string;
  channelId: string;
  message: OutgoingDiscordMessage;
}

export class MemoryDiscord implements DiscordPort {
  readonly calls: (keyof DiscordPort)[] = [];
  /** Every message the bot sent, in order (a DM channel is `dm-<userId>`). */
  readonly sent: SentMessage[] = [];
  readonly reactions: { channelId: string; messageId: string; emoji: string }[] = [];
  readonly deleted: { channelId: string; messageId: string }[] = [];
  readonly edited: { channelId: string; messageId: string; message: OutgoingDiscordMessage }[] = [];
  /** Files users sent, by URL. */
  readonly files = new Map<string, Uint8Array<ArrayBuffer>>();
  readonly faults = new Faults();
  #nextId = 1_000;

  failNext(method: keyof DiscordPort, ...errors: (Error | null)[]) {
    this.faults.failNext(method, ...errors);
  }

  /** What the user with this DM channel received. */
  sentTo(userId: string): SentMessage[] {
    return this.sent.filter((m) => m.channelId === `dm-${userId}`);
  }

  /** Records the call; an injected failure rejects it like a failed request. */
  #call(method: keyof DiscordPort): Promise<void> {
    this.calls.push(method);
    return this.faults.outcome(method);
  }

  async openDmChannel(userId: string) {
    await this.#call("openDmChannel");
    return `dm-${userId}`;
  }

  async openPrivateThread(parentChannelId: string, name: string) {
    await this.#call("openPrivateThread");
    return `thread-${parentChannelId}-${name}`;
  }

  async addThreadMember(_threadId: string, _userId: string) {
    await this.#call("addThreadMember");
  }

  async deleteChannel(_channelId: string) {
    await this.#call("deleteChannel");
  }

  async checkAccess() {
    await this.#call("checkAccess");
  }

  async sendMessage(channelId: string, message: OutgoingDiscordMessage) {
    await this.#call("sendMessage");
    const id = `m${this.#nextId++}`;
    this.sent.push({ id, channelId, message });
    return { id };
  }

  /** Fire-and-forget like the real port: recorded at once, nothing to await or fail. */
  confirmReceipt(channelId: string, messageId: string, emoji: string) {
    this.calls.push("confirmReceipt");
    this.reactions.push({ channelId, messageId, emoji });
  }

  async downloadAttachment(
    attachment: { id: string; url: string; filename: string; contentType: string },
    _where: { channelId: string; messageId: string },
    limits: { maxBytes: number },
  ): Promise<DownloadOutcome> {
    await this.#call("downloadAttachment");
    const bytes = this.files.get(attachment.url);
    if (!bytes) throw new DiscordFailure(404, 10014);
    if (bytes.length > limits.maxBytes) return { refused: "too-large" };
    return { file: { name: attachment.filename, contentType: attachment.contentType, bytes } };
  }

  async deleteMessage(channelId: string, messageId: string) {
    await this.#call("deleteMessage");
    this.deleted.push({ channelId, messageId });
  }

  startTyping(_channelId: string) {
    this.calls.push("startTyping");
  }

  async listMessagesAfter(_channelId: string, _afterId: string, _limit: number) {
    await this.#call("listMessagesAfter");
    return [] as DiscordChannelMessage[];
  }

  async editMessage(channelId: string, messageId: string, message: OutgoingDiscordMessage) {
    await this.#call("editMessage");
    this.edited.push({ channelId, messageId, message });
  }
}
