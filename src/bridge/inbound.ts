/**
 * Discord → Chatwoot: one user DM becomes one incoming Chatwoot message,
 * following the inbox's working hours and the ticket rules.
 *
 * `forwardDm` is one mailbox step. It may run again after an interrupted
 * attempt, so every side effect is guarded: the Chatwoot message carries the
 * Discord message id as `source_id`; when an earlier attempt may have reached
 * Chatwoot, the conversation is checked before posting again; notices are
 * appended with dedupe keys.
 */
import { downloadWithinBudget, filesAndLinks, formatBytes } from "./attachment_downloads.ts";
import { isRetryable, isServiceStatus, ServiceError } from "./errors.ts";
import type { DiscordAuthor, DmAttachment, DmProgress, InboundDm, UserNotice } from "./items.ts";
import { backAtLine, notice, renderTemplate } from "./notices.ts";
import type {
  AttachmentMemory,
  ChatwootPort,
  ConversationStore,
  DiscordPort,
  InboxSettings,
  InboxSettingsSource,
  Logger,
  MailboxPort,
  MessageLinks,
  TicketStore,
  UploadFile,
} from "./ports.ts";
import {
  ContactBlocked,
  type ContactEnrichment,
  displayName,
  forgetConversation,
  type ResolvedTicket,
  resolveTicket,
  type TicketDeps,
} from "./ticket.ts";
import { isOpenAt, nextOpening, type WorkingSchedule } from "./working_hours.ts";

export interface InboundTexts {
  outsideHoursAccept: boolean;
  outsideHoursFallbackMessage: string;
  greetingEnabled: boolean;
  greetingMessage: string;
  deliveryDelayedMessage: string;
}

export interface InboundDeps {
  chatwoot: ChatwootPort;
  discord: DiscordPort;
  tickets: TicketStore;
  conversations: ConversationStore;
  inbox: InboxSettingsSource;
  mailbox: MailboxPort;
  links: MessageLinks;
  /** Chatwoot's per-file upload limit in bytes (MAXIMUM_FILE_UPLOAD_SIZE). */
  maxUploadBytes: number;
  /** The global budget for attachment bytes held between download and upload. */
  attachmentMemory: AttachmentMemory;
  inboxId: number;
  reopenWindowHours: number;
  texts: InboundTexts;
  /** Empty: do not react. */
  confirmEmoji: string;
  enrich?: (author: DiscordAuthor) => Promise<ContactEnrichment>;
  topics?: TicketDeps["topics"];
  nextSeq: () => bigint;
  log: Logger;
  now?: () => number;
  /** Persists progress for this item before the next side effect. */
  checkpoint(progress: DmProgress): Promise<void>;
}

export function scheduleOf(settings: InboxSettings): WorkingSchedule {
  return {
    enabled: settings.workingHoursEnabled,
    timeZone: settings.timeZone,
    days: settings.workingHours,
  };
}

/** Returns where the DM went; undefined when it was refused (outside working hours). */
export async function forwardDm(
  deps: InboundDeps,
  dm: InboundDm,
  progress: DmProgress,
  /**
   * firstAttempt: false when this DM may have been posted already (an earlier attempt failed
   * or died). signal: aborted when this drain lost its mailbox; nothing is posted after that.
   */
  attempt: { firstAttempt: boolean; signal?: AbortSignal } = { firstAttempt: false },
): Promise<{ conversationId: number; chatwootMessageId: number } | undefined> {
  const log = deps.log.child({ discordUserId: dm.author.id, discordMessageId: dm.messageId });
  // One progress record, updated in place by every step and saved before each side effect.
  progress = { ...progress };
  if (progress.chatwootMessageId === undefined) {
    const now = (deps.now ?? Date.now)();
    const settings = await deps.inbox.get();
    const open = isOpenAt(scheduleOf(settings), now);
    if (!open && !deps.texts.outsideHoursAccept) {
      await queueNotice(deps, outsideHoursRefusal(deps, settings, dm, now));
      log.info("dm refused outside working hours");
      return undefined;
    }
    let posted: { id: number; ticket: ResolvedTicket; created: boolean };
    try {
      posted = await postToChatwoot(deps, dm, attempt, settings, log);
    } catch (error) {
      if (error instanceof ContactBlocked) {
        await queueNotice(
          deps,
          notice(dm.author.id, `blocked:${dm.messageId}`, {
            tone: "danger",
            title: "Message not delivered",
            description: "You cannot open a support ticket at the moment.",
          }),
        );
        log.info("dm from a blocked contact: no ticket");
        return undefined;
      }
      if (error instanceof ServiceError && error.service === "chatwoot" && isRetryable(error)) {
        await tellDelayedOnce(deps, dm, progress, log);
      }
      throw error;
    }
    progress.chatwootMessageId = posted.id;
    progress.conversationId = posted.ticket.conversationId;
    if (progress.delayNotified) await deps.conversations.clearDelayNotified(dm.author.id);
    if (posted.created) await greet(deps, dm, posted.ticket.conversationId, settings);
    if (!open) await tellOutsideHoursOnce(deps, dm, posted.ticket.conversationId, settings, now);
  }
  // The message reached the agents. The ✅ is best-effort and never holds this mailbox:
  // it is asked for and not awaited (the port drops, logs and counts what cannot go).
  if (deps.confirmEmoji && !dm.viaCommand) {
    deps.discord.confirmReceipt(dm.channelId, dm.messageId, deps.confirmEmoji);
  }
  return progress.conversationId === undefined || progress.chatwootMessageId === undefined
    ? undefined
    : { conversationId: progress.conversationId, chatwootMessageId: progress.chatwootMessageId };
}

async function postToChatwoot(
  deps: InboundDeps,
  dm: InboundDm,
  attempt: { firstAttempt: boolean; signal?: AbortSignal },
  settings: InboxSettings,
  log: Logger,
): Promise<{ id: number; ticket: ResolvedTicket; created: boolean }> {
  for (let round = 0;; round++) {
    const { ticket, created } = await resolveTicket(deps, dm.author, settings, dm.viaCommand);
    // An attempt that may have reached Chatwoot is checked before posting again.
    if (!attempt.firstAttempt) {
      const existing = await findBySourceId(deps.chatwoot, ticket.conversationId, dm.messageId);
      if (existing !== undefined) {
        log.info("dm already in chatwoot", { conversationId: ticket.conversationId });
        return { id: existing, ticket, created };
      }
    }
    const { files, notes, release } = await collectAttachments(deps, dm, attempt.signal);
    try {
      const inReplyTo = dm.replyTo ? await deps.links.chatwootFor(dm.replyTo) : undefined;
      attempt.signal?.throwIfAborted();
      const posted = await deps.chatwoot.createIncomingMessage(ticket.conversationId, {
        content: [dm.content, ...notes].filter((t) => t !== "").join("\n\n"),
        sourceId: dm.messageId,
        ...(dm.replyTo ? { inReplyToExternalId: dm.replyTo } : {}),
        ...(inReplyTo !== undefined ? { inReplyTo } : {}),
        ...(files.length ? { files } : {}),
      });
      log.info("dm forwarded", {
        conversationId: ticket.conversationId,
        chatwootMessageId: posted.id,
        latencyMs: Date.now() - dm.receivedAt,
      });
      return { id: posted.id, ticket, created };
    } catch (error) {
      // The conversation was deleted in Chatwoot: open a new one once, and post there.
      if (round === 0 && isServiceStatus(error, "chatwoot", 404)) {
        log.warn("conversation gone, opening a new one", {
          conversationId: ticket.conversationId,
        });
        await forgetConversation(deps, dm.author.id);
        continue;
      }
      throw error;
    } finally {
      release();
    }
  }
}

/** The message with this source_id in the conversation (undefined when the conversation is gone). */
export async function findBySourceId(
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

/** Chatwoot takes at most 15 files per message (app/models/message.rb). */
export const CHATWOOT_MAX_ATTACHMENTS = 15;

/**
 * Downloads what fits Chatwoot's limits and the attachment memory budget; for
 * the rest, a line with the file's name, size, link and why it is not
 * attached — nothing is dropped silently. The caller calls `release` once the
 * message is posted or has failed.
 */
async function collectAttachments(
  deps: InboundDeps,
  dm: InboundDm,
  signal?: AbortSignal,
): Promise<{ files: UploadFile[]; notes: string[]; release: () => void }> {
  const notes = new Map<DmAttachment, string>();
  const line = (a: DmAttachment, why: string) =>
    `📎 ${a.filename}${a.size ? ` (${formatBytes(a.size)})` : ""} ${why}: ${a.url}`;
  const skip = (a: DmAttachment, why: string) => notes.set(a, line(a, why));
  const wanted: DmAttachment[] = [];
  for (const a of dm.attachments ?? []) {
    if (wanted.length >= CHATWOOT_MAX_ATTACHMENTS) {
      skip(a, `not attached (Chatwoot takes ${CHATWOOT_MAX_ATTACHMENTS} files per message)`);
    } else if (a.size > deps.maxUploadBytes) {
      skip(a, `not attached (over the ${formatBytes(deps.maxUploadBytes)} upload limit)`);
    } else wanted.push(a);
  }
  const { results, release } = await downloadWithinBudget(
    {
      memory: deps.attachmentMemory,
      uploadLimit: deps.maxUploadBytes,
      log: deps.log.child({ discordMessageId: dm.messageId }),
      signal,
    },
    wanted,
    async (a, limits) => {
      try {
        const where = { channelId: dm.channelId, messageId: dm.messageId };
        return await deps.discord.downloadAttachment(a, where, limits);
      } catch (error) {
        if (isRetryable(error)) throw error;
        return { why: "could not be downloaded from Discord" };
      }
    },
  );
  const { files, links } = filesAndLinks(dm.attachments ?? [], results, notes, line);
  return { files, notes: links, release };
}

function queueNotice(deps: Pick<InboundDeps, "mailbox" | "nextSeq">, item: UserNotice) {
  return deps.mailbox.append({
    dir: "out",
    userId: item.discordUserId,
    items: [{ seq: deps.nextSeq(), item }],
    dedupe: { kind: "notice", id: item.noticeId },
  });
}

/** The inbox's out-of-office text (else the fallback), what happened to the DM, and when we are back. */
function outOfOfficeText(
  deps: InboundDeps,
  settings: InboxSettings,
  dm: InboundDm,
  now: number,
  whatHappened: string,
): string {
  const text = settings.outOfOfficeMessage.trim() || deps.texts.outsideHoursFallbackMessage;
  return `${
    renderTemplate(text, { contactName: displayName(dm.author), inboxName: settings.name })
  }\n\n${whatHappened}${backAtLine(nextOpening(scheduleOf(settings), now))}`;
}

function outsideHoursRefusal(
  deps: InboundDeps,
  settings: InboxSettings,
  dm: InboundDm,
  now: number,
): UserNotice {
  return notice(dm.author.id, `ooo-refused:${dm.messageId}`, {
    tone: "danger",
    title: "Message not delivered",
    description: outOfOfficeText(
      deps,
      settings,
      dm,
      now,
      "**Your message was not passed on to our team.** Please send it again when we are open.",
    ),
  });
}

/** Outside working hours in accept mode: once per conversation until it is resolved. */
async function tellOutsideHoursOnce(
  deps: InboundDeps,
  dm: InboundDm,
  conversationId: number,
  settings: InboxSettings,
  now: number,
) {
  const { before, after } = await deps.conversations.update(
    conversationId,
    (s) =>
      s?.outOfOfficeShown ? s : {
        userId: dm.author.id,
        status: "open",
        lastActivityAt: Math.floor(now / 1000),
        eventAt: 0,
        ...s,
        outOfOfficeShown: true,
      },
  );
  if (before?.outOfOfficeShown || !after) return;
  await queueNotice(
    deps,
    notice(dm.author.id, `ooo:${conversationId}:${dm.messageId}`, {
      tone: "warning",
      title: "We're offline",
      description: outOfOfficeText(
        deps,
        settings,
        dm,
        now,
        "Your message was passed on; an agent will answer when we are back.",
      ),
    }),
  );
}

/**
 * A new ticket gets a greeting: the inbox's own when Chatwoot has one enabled,
 * else GREETING_MESSAGE. (Chatwoot's own greeting template is not relayed, so
 * it is never shown twice.)
 */
async function greet(
  deps: InboundDeps,
  dm: InboundDm,
  conversationId: number,
  settings: InboxSettings,
) {
  const text = settings.greetingEnabled && settings.greetingMessage.trim()
    ? settings.greetingMessage
    : deps.texts.greetingEnabled
    ? deps.texts.greetingMessage
    : "";
  if (!text) return;
  await queueNotice(
    deps,
    notice(dm.author.id, `greeting:${conversationId}`, {
      tone: "primary",
      description: renderTemplate(text, {
        contactName: displayName(dm.author),
        inboxName: settings.name,
      }),
    }),
  );
}

/** While Chatwoot cannot be reached, the user hears once that their message waits. */
async function tellDelayedOnce(
  deps: InboundDeps,
  dm: InboundDm,
  progress: DmProgress,
  log: Logger,
) {
  if (progress.delayNotified) return;
  if (await deps.conversations.markDelayNotified(dm.author.id)) {
    await queueNotice(
      deps,
      notice(dm.author.id, `delayed:${dm.messageId}`, {
        tone: "warning",
        title: "Delivery delayed",
        description: deps.texts.deliveryDelayedMessage,
      }),
    );
    log.info("user told delivery is delayed");
  }
  progress.delayNotified = true;
  await deps.checkpoint(progress);
}
