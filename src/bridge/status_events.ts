/**
 * Conversation status changes → notices to the user.
 *
 * The bridge keeps each conversation's status as last seen and acts on the
 * transition, so it works whichever status webhooks Chatwoot sends:
 * `conversation_updated` (whose `changed_attributes` says whether the status
 * changed) and `conversation_status_changed` (whose `changed_attributes` is
 * always null) both describe the same change, and the second one finds
 * nothing new. Changes the bridge caused itself (a DM reopening a resolved
 * ticket, `/close`, `/reopen`) are recorded before they happen, so they do
 * not produce a notice either.
 */
import type { ConversationStatusEvent } from "./webhook_events.ts";
import type { Tone, UserNotice } from "./items.ts";
import { notice } from "./notices.ts";
import type { ConversationStore, Logger, MailboxPort } from "./ports.ts";
import { discordUserOf } from "./webhook_routing.ts";

export interface StatusTexts {
  resolvedMessage: string;
  /** TRANSCRIPT_ON_RESOLVE: the resolved notice carries the conversation's transcript. */
  transcriptOnResolve?: boolean;
  snoozedMessage: string;
  pendingMessage: string;
  reopenedMessage: string;
}

export interface StatusDeps {
  conversations: ConversationStore;
  mailbox: MailboxPort;
  texts: StatusTexts;
  scope: { inboxId: number; accountId: number };
  nextSeq: () => bigint;
  log: Logger;
}

export type StatusOutcome =
  | { status: "ignored"; reason: string }
  | { status: "recorded"; from: string | undefined; to: string; notice: boolean };

/** The notice for a transition, or undefined when there is nothing to tell (or it is switched off). */
export function noticeForTransition(
  from: string | undefined,
  to: string,
  texts: StatusTexts,
): { title: string; text: string; tone: Tone } | undefined {
  const pick = (title: string, text: string, tone: Tone) =>
    text ? { title, text, tone } : undefined;
  switch (to) {
    case "resolved":
      return pick("Ticket resolved", texts.resolvedMessage, "success");
    case "snoozed":
      return pick("Ticket snoozed", texts.snoozedMessage, "warning");
    case "pending":
      return pick("Ticket queued", texts.pendingMessage, "info");
    case "open":
      // Only a ticket that was set aside comes back "reopened"; pending → open is a hand-over.
      return from === "resolved" || from === "snoozed"
        ? pick("Ticket reopened", texts.reopenedMessage, "primary")
        : undefined;
    default:
      return undefined;
  }
}

export async function applyStatusEvent(
  deps: StatusDeps,
  event: ConversationStatusEvent,
): Promise<StatusOutcome> {
  if (event.inboxId !== deps.scope.inboxId) return { status: "ignored", reason: "other inbox" };
  if (event.accountId !== undefined && event.accountId !== deps.scope.accountId) {
    return { status: "ignored", reason: "other account" };
  }
  if (event.statusChanged === false) return { status: "ignored", reason: "status unchanged" };
  const userId = discordUserOf(event);
  if (!userId) return { status: "ignored", reason: "contact is not a Discord user" };

  const { before, after } = await deps.conversations.update(event.conversationId, (current) => {
    if (current && current.eventAt > event.updatedAt) return current; // an older event, late
    return {
      ...current,
      userId,
      status: event.status,
      lastActivityAt: event.lastActivityAt,
      eventAt: event.updatedAt,
      outOfOfficeShown: event.status === "resolved" ? false : current?.outOfOfficeShown,
    };
  });
  const from = before?.status;
  if (!after || after === before || from === event.status) {
    return { status: "ignored", reason: "no change" };
  }
  const withTranscript = event.status === "resolved" && deps.texts.transcriptOnResolve === true;
  const text = noticeForTransition(from, event.status, deps.texts) ??
    (withTranscript
      ? {
        title: "Ticket resolved",
        text: "Here is a transcript of our conversation.",
        tone: "success" as const,
      }
      : undefined);
  if (text) {
    const item: UserNotice = notice(
      userId,
      `status:${event.conversationId}:${event.status}:${event.updatedAt}`,
      { tone: text.tone, title: text.title, description: text.text },
      withTranscript ? { transcript: { conversationId: event.conversationId } } : {},
    );
    await deps.mailbox.append({
      dir: "out",
      userId,
      items: [{ seq: deps.nextSeq(), item }],
      dedupe: { kind: "notice", id: item.noticeId },
    });
  }
  deps.log.info("conversation status changed", {
    conversationId: event.conversationId,
    discordUserId: userId,
    from: from ?? null,
    to: event.status,
    notice: text !== undefined,
  });
  return { status: "recorded", from, to: event.status, notice: text !== undefined };
}
