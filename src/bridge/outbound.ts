/**
 * Chatwoot → Discord: one agent reply becomes one or more DMs.
 *
 * `relayReply` is one mailbox step and may run again after an interrupted
 * attempt: each part sent is checkpointed, and each carries a nonce Discord
 * enforces, so a part is not sent twice.
 */
import { downloadWithinBudget, filesAndLinks, formatBytes } from "./attachment_downloads.ts";
import { classifyFailure, describeError, isRetryable, ServiceError } from "./errors.ts";
import type {
  AgentAttachment,
  AgentDeletion,
  OutboundReply,
  ReplyProgress,
  UserNotice,
} from "./items.ts";
import { nonceFor } from "./notices.ts";
import type {
  AttachmentMemory,
  ChatwootPort,
  CsatStore,
  DiscordPort,
  Logger,
  MessageLinks,
  OutgoingDiscordMessage,
  TicketStore,
  UploadFile,
} from "./ports.ts";
import type { InteractiveStore } from "./prompts.ts";
import { splitMessage } from "./split_message.ts";
import {
  dmChannelFor,
  DMS_REFUSED,
  type Fallback,
  noteThreadDelivery,
  sendToUser,
  userChannel,
} from "./fallback.ts";
import { interactivePieces } from "./interactive_view.ts";

export interface OutboundDeps {
  discord: DiscordPort;
  /** FALLBACK_CHANNEL_ID: where replies go while the user's DMs are closed. */
  fallback?: Fallback;
  /** Discord's per-file upload limit in bytes (10 MiB unless the server is boosted). */
  maxUploadBytes: number;
  /** The global budget for attachment bytes held between download and upload. */
  attachmentMemory: AttachmentMemory;
  tickets: TicketStore;
  chatwoot: ChatwootPort;
  links: MessageLinks;
  /** Interactive messages are recorded before they are sent, so that a click can never come first. */
  interactive: InteractiveStore;
  log: Logger;
  checkpoint(progress: ReplyProgress): Promise<void>;
}

/** Discord JSON codes that mean the user cannot be reached. */
const UNREACHABLE_USER: Record<number, string> = {
  ...DMS_REFUSED,
  10013: "the Discord user does not exist",
  10007: "the user is not a member of the fallback channel's server",
};

export type ReplyOutcome =
  | { status: "delivered"; discordMessageIds: string[] }
  | { status: "already-delivered" }
  | { status: "undeliverable"; reason: string };

/**
 * Sends an agent reply. A reply the user cannot receive (DMs closed, …) is
 * not retried: its Chatwoot message is marked failed with the reason, and the
 * conversation gets one private note saying so.
 */
export async function relayReply(
  deps: OutboundDeps,
  reply: OutboundReply,
  progress: ReplyProgress,
  /**
   * firstAttempt: false when this reply may have been sent already (an earlier attempt failed
   * or died). signal: aborted when this drain lost its mailbox; no part is sent after that.
   * A delivered reply is marked delivered in Chatwoot by the caller's follow-up item.
   */
  attempt: { firstAttempt: boolean; signal?: AbortSignal } = { firstAttempt: false },
): Promise<ReplyOutcome> {
  const log = deps.log.child({
    discordUserId: reply.discordUserId,
    conversationId: reply.conversationId,
    chatwootMessageId: reply.chatwootMessageId,
  });
  const segment = reply.segment ?? 0;
  // Reconciliation and the webhook can both queue a reply; the link says it went out.
  if (!attempt.firstAttempt && segment === 0 && !progress.sentPartIds?.length) {
    if (await deps.links.discordFor(reply.chatwootMessageId)) {
      return { status: "already-delivered" };
    }
  }
  const sent = [...(progress.sentPartIds ?? [])];
  // Gives the attachment bytes back to the memory budget once the parts are sent or failed.
  let release = () => {};
  try {
    const target = { userId: reply.discordUserId, conversationId: reply.conversationId };
    let channel = await userChannel(deps, target.userId, target.conversationId);
    if (reply.interactive) {
      await deps.interactive.recordOnce({
        chatwootMessageId: reply.chatwootMessageId,
        userId: reply.discordUserId,
        conversationId: reply.conversationId,
        content: reply.interactive,
      });
    }
    const composed = await composeMessages(deps, reply, attempt.signal);
    release = composed.release;
    const messages = composed.messages;
    const replyTo = segment === 0 ? await discordMessageAnswered(deps, reply) : undefined;
    for (let i = sent.length; i < messages.length; i++) {
      attempt.signal?.throwIfAborted();
      const body = {
        ...messages[i],
        ...(i === 0 && replyTo ? { replyTo } : {}),
        nonce: `cw${reply.chatwootMessageId}s${segment}p${i}`,
      };
      const { result: message, channel: used } = await sendToUser(
        deps,
        target,
        channel,
        (channelId) => deps.discord.sendMessage(channelId, body),
      );
      channel = used;
      sent.push(message.id);
      // What Discord accepted is recorded before anything that can fail after it: the parts
      // before the last here, the last with the item's completion (a link, or here for a
      // later segment, whose link is written below).
      if (i < messages.length - 1 || segment > 0) await deps.checkpoint({ sentPartIds: sent });
    }
    await noteThreadDelivery(deps, reply.conversationId, channel);
  } catch (error) {
    // Only Discord refusing this user ends the reply here; an outage or a refused token waits.
    if (
      !(error instanceof ServiceError) || error.service !== "discord" ||
      classifyFailure(error).cause === "outage"
    ) throw error;
    const why = (error.code !== undefined && UNREACHABLE_USER[error.code]) || error.message;
    const reason =
      `Cannot deliver reply ${reply.chatwootMessageId} to Discord user ${reply.discordUserId}: ${why}${
        error.code !== undefined ? ` (${error.code})` : ""
      }`;
    await reportUndeliverable(deps, reply, reason);
    log.warn("reply undeliverable", { reason });
    return { status: "undeliverable", reason };
  } finally {
    release();
  }
  // Most replies are one segment: their link is written with the item's completion (by the
  // caller). Later segments of a very long reply add their messages to the link here.
  if (segment > 0) {
    const existing = await deps.links.discordFor(reply.chatwootMessageId);
    await deps.links.link(reply.chatwootMessageId, [...new Set([...(existing ?? []), ...sent])]);
  }
  log.info("reply delivered", { parts: sent.length, latencyMs: Date.now() - reply.receivedAt });
  return { status: "delivered", discordMessageIds: sent };
}

/** Discord takes at most 10 files per message. */
export const DISCORD_MAX_FILES = 10;

type DiscordMessageBody = Pick<OutgoingDiscordMessage, "content" | "files" | "cards" | "rows">;

/**
 * The Discord messages a reply becomes: its text in parts of ≤ 2000
 * characters, then its files, ten per message. Files Discord cannot take (too
 * big, not fetchable, not allowed, beyond the attachment memory budget) are
 * listed as links instead, with the reason; nothing is dropped. The caller
 * calls `release` once the messages are sent or have failed.
 */
async function composeMessages(
  deps: OutboundDeps,
  reply: OutboundReply,
  signal?: AbortSignal,
): Promise<{ messages: DiscordMessageBody[]; release: () => void }> {
  const links = new Map<AgentAttachment, string>();
  const wanted: AgentAttachment[] = [];
  for (const a of reply.attachments ?? []) {
    if (a.size > deps.maxUploadBytes) {
      links.set(a, `📎 ${a.name} (${formatBytes(a.size)}): ${a.url}`);
    } else wanted.push(a);
  }
  const { results, release } = await downloadWithinBudget(
    {
      memory: deps.attachmentMemory,
      uploadLimit: deps.maxUploadBytes,
      log: deps.log.child({ chatwootMessageId: reply.chatwootMessageId }),
      signal,
    },
    wanted,
    async (a, limits) => {
      try {
        return await deps.chatwoot.downloadAttachment(a, limits);
      } catch (error) {
        if (isRetryable(error)) throw error;
        return { why: "not attached (could not be downloaded from Chatwoot)" };
      }
    },
  );
  const { files, links: linkLines } = filesAndLinks(
    reply.attachments ?? [],
    results,
    links,
    (a, why) => `📎 ${a.name}${a.size ? ` (${formatBytes(a.size)})` : ""} ${why}: ${a.url}`,
  );
  const text = [reply.content, ...linkLines].filter((t) => t.trim() !== "").join("\n");
  const messages: DiscordMessageBody[] = text
    ? splitMessage(text).filter((p) => p.trim() !== "").map((content) => ({ content }))
    : [];
  for (let i = 0; i < files.length; i += DISCORD_MAX_FILES) {
    const batch = files.slice(i, i + DISCORD_MAX_FILES);
    // The first batch rides on the last text part.
    if (i === 0 && messages.length) messages[messages.length - 1].files = batch;
    else messages.push({ files: batch });
  }
  if (reply.interactive) {
    const [first, ...rest] = interactivePieces(reply.chatwootMessageId, reply.interactive);
    // Buttons and menus ride on the last message when they need no cards of their own.
    const last = messages.at(-1);
    if (last && !first.cards) last.rows = first.rows;
    else messages.push(first);
    messages.push(...rest);
  }
  return { messages, release };
}

/** The Discord message an agent's reply answers, if the bridge knows its Discord copy. */
async function discordMessageAnswered(
  deps: OutboundDeps,
  reply: OutboundReply,
): Promise<string | undefined> {
  // A user's DM has its Discord id as source_id (edits and deletions add ":…").
  const external = reply.replyTo?.externalId?.split(":")[0];
  if (external && /^\d{17,20}$/.test(external)) return external;
  if (reply.replyTo?.chatwootId !== undefined) {
    return (await deps.links.discordFor(reply.replyTo.chatwootId))?.[0];
  }
  return undefined;
}

/** Deletes the Discord copies of a message an agent deleted in Chatwoot. */
export async function deleteAgentMessage(
  deps: Pick<OutboundDeps, "discord" | "tickets" | "links" | "log" | "fallback">,
  item: AgentDeletion,
): Promise<void> {
  const copies = await deps.links.discordFor(item.chatwootMessageId);
  if (!copies?.length) return;
  const channelId = await dmChannelFor(deps, item.discordUserId);
  const thread = (await deps.fallback?.threads.threadOf(item.discordUserId))?.threadId;
  for (const id of copies) {
    await deps.discord.deleteMessage(channelId, id).catch((error) => {
      // Delivered in the fallback thread, not in DMs.
      if (!thread || !(error instanceof ServiceError && error.status === 404)) throw error;
      return deps.discord.deleteMessage(thread, id);
    });
  }
  deps.log.info("agent's deletion relayed", {
    discordUserId: item.discordUserId,
    chatwootMessageId: item.chatwootMessageId,
    discordMessages: copies.length,
  });
}

async function reportUndeliverable(deps: OutboundDeps, reply: OutboundReply, reason: string) {
  await deps.chatwoot.updateMessageStatus(
    reply.conversationId,
    reply.chatwootMessageId,
    "failed",
    reason,
  );
  if (await deps.links.once("undeliverable_note", String(reply.conversationId))) {
    await deps.chatwoot.createPrivateNote(
      reply.conversationId,
      `cordwoot: replies in this conversation cannot reach the user on Discord. ${reason}. ` +
        "Each affected message is marked as failed.",
    );
  }
}

/** Sends a notice once (its nonce makes a re-run after a crash harmless). */
export type NoticeDeps = Pick<OutboundDeps, "discord" | "tickets" | "log" | "fallback"> & {
  csat: CsatStore;
  /** Builds a conversation's transcript (transcript.ts), for notices that carry one. */
  transcript?: (conversationId: number) => Promise<UploadFile>;
};

export async function sendNotice(deps: NoticeDeps, item: UserNotice): Promise<void> {
  const conversationId = item.csat?.conversationId ?? item.transcript?.conversationId;
  const channel = await userChannel(deps, item.discordUserId, conversationId);
  // The survey is recorded before its button exists, so that a click can never come first.
  const prompt = item.csat && {
    uuid: item.csat.uuid,
    userId: item.discordUserId,
    conversationId: item.csat.conversationId,
    channelId: channel.channelId,
    messageId: "",
  };
  if (prompt) await deps.csat.save(prompt);
  const transcript = item.transcript && await transcriptOf(deps, item.transcript.conversationId);
  const { result: sent, channel: used } = await sendToUser(
    deps,
    { userId: item.discordUserId, conversationId },
    channel,
    (channelId) =>
      deps.discord.sendMessage(channelId, {
        embed: transcript === null
          ? {
            ...item.embed,
            description: `${item.embed.description}\n\n_(The transcript could not be attached.)_`,
          }
          : item.embed,
        button: item.button,
        ...(transcript ? { files: [transcript] } : {}),
        ...(item.rows ? { rows: item.rows } : {}),
        nonce: nonceFor(item.noticeId),
      }),
  );
  if (prompt) await deps.csat.save({ ...prompt, channelId: used.channelId, messageId: sent.id });
  deps.log.info("notice delivered", {
    discordUserId: item.discordUserId,
    notice: item.noticeId,
    latencyMs: Date.now() - item.receivedAt,
  });
}

/**
 * A conversation's transcript, or null when Chatwoot cannot give it now: the
 * notice goes without it (a Chatwoot outage never holds what goes to Discord).
 */
async function transcriptOf(
  deps: NoticeDeps,
  conversationId: number,
): Promise<UploadFile | null | undefined> {
  if (!deps.transcript) return undefined;
  try {
    return await deps.transcript(conversationId);
  } catch (error) {
    deps.log.warn("transcript not attached", { conversationId, error: describeError(error) });
    return null;
  }
}
