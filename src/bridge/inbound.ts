/**
 * Discord → Chatwoot: one user DM becomes one incoming Chatwoot message.
 *
 * `forwardDm` is one mailbox step. It may run again after an interrupted
 * attempt, so every side effect is guarded: the Chatwoot message carries the
 * Discord message id as `source_id` and, when an earlier attempt may have
 * reached Chatwoot, the conversation is checked before posting again.
 */
import { isServiceStatus } from "./errors.ts";
import type { ChatwootPort, DiscordPort, Logger, TicketStore } from "./ports.ts";
import { type DiscordAuthor, forgetConversation, resolveTicket } from "./ticket.ts";

/** A DM waiting in the inbound mailbox. Plain data: it is stored in KV. */
export interface InboundDm {
  kind: "dm";
  messageId: string;
  channelId: string;
  author: DiscordAuthor;
  content: string;
  /** Epoch ms when the gateway handed it over. */
  receivedAt: number;
}

/** How far a DM got; saved after each step so a retry resumes there. */
export interface DmProgress {
  /** Set before the Chatwoot POST: the message may exist even if no answer came back. */
  postStarted?: boolean;
  chatwootMessageId?: number;
}

export interface InboundDeps {
  chatwoot: ChatwootPort;
  discord: DiscordPort;
  tickets: TicketStore;
  inboxId: number;
  /** Empty: do not react. */
  confirmEmoji: string;
  log: Logger;
  /** Persists progress for this item before the next side effect. */
  checkpoint(progress: DmProgress): Promise<void>;
}

export async function forwardDm(
  deps: InboundDeps,
  dm: InboundDm,
  progress: DmProgress,
): Promise<void> {
  const log = deps.log.child({ discordUserId: dm.author.id, discordMessageId: dm.messageId });
  if (progress.chatwootMessageId === undefined) {
    const chatwootMessageId = await postToChatwoot(deps, dm, progress, log);
    progress = { ...progress, chatwootMessageId };
    await deps.checkpoint(progress);
  }
  if (deps.confirmEmoji) {
    try {
      await deps.discord.addReaction(dm.channelId, dm.messageId, deps.confirmEmoji);
    } catch (error) {
      // The message reached the agent; a missing ✅ is not worth holding the mailbox for,
      // unless Discord is only asking us to wait.
      if (isServiceStatus(error, "discord", 429) || isServiceStatus(error, "discord", 0)) {
        throw error;
      }
      log.warn("confirmation reaction failed", { error: String(error) });
    }
  }
}

async function postToChatwoot(
  deps: InboundDeps,
  dm: InboundDm,
  progress: DmProgress,
  log: Logger,
): Promise<number> {
  for (let attempt = 0;; attempt++) {
    const ticket = await resolveTicket(deps, dm.author);
    if (progress.postStarted) {
      const existing = await findBySourceId(deps.chatwoot, ticket.conversationId, dm.messageId);
      if (existing !== undefined) {
        log.info("dm already in chatwoot", { conversationId: ticket.conversationId });
        return existing;
      }
    } else {
      progress = { ...progress, postStarted: true };
      await deps.checkpoint(progress);
    }
    try {
      const posted = await deps.chatwoot.createIncomingMessage(ticket.conversationId, {
        content: dm.content,
        sourceId: dm.messageId,
      });
      log.info("dm forwarded", {
        conversationId: ticket.conversationId,
        chatwootMessageId: posted.id,
        latencyMs: Date.now() - dm.receivedAt,
      });
      return posted.id;
    } catch (error) {
      // The conversation was deleted in Chatwoot: open a new one once, and post there.
      if (attempt === 0 && isServiceStatus(error, "chatwoot", 404)) {
        log.warn("conversation gone, opening a new one", {
          conversationId: ticket.conversationId,
        });
        await forgetConversation(deps, dm.author.id);
        continue;
      }
      throw error;
    }
  }
}

async function findBySourceId(
  chatwoot: ChatwootPort,
  conversationId: number,
  sourceId: string,
): Promise<number | undefined> {
  try {
    const messages = await chatwoot.listMessages(conversationId);
    return messages.find((m) => m.sourceId === sourceId)?.id;
  } catch (error) {
    if (isServiceStatus(error, "chatwoot", 404)) return undefined;
    throw error;
  }
}
