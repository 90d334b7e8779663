/**
 * NUDGE_AFTER_HOURS: a check-in before a ticket goes stale. When an agent's
 * reply is the last message of an open conversation and the user has not
 * answered for that long, the user gets one DM "Still need help?" with two
 * buttons: *Yes* (a private note tells the agents; the ticket stays open) and
 * *It's solved* (the ticket is resolved as with `/close`; CSAT follows as
 * usual). One check-in per conversation until the user writes again; none
 * outside the inbox's working hours (the next run after opening sends it).
 *
 * Found by a schedule from what the bridge recorded itself (who spoke last,
 * store/answer_waits.ts); each check-in costs one Chatwoot read to confirm
 * the ticket is still open, and a run sends at most MAX_NUDGES_PER_RUN.
 */
import { closeTicket, type CommandDeps } from "./commands.ts";
import { describeError } from "./errors.ts";
import { scheduleOf } from "./inbound.ts";
import { mailboxSeqAt } from "./intake.ts";
import type { ComponentRow, NoticeEmbed } from "./items.ts";
import { notice } from "./notices.ts";
import type {
  ChatwootPort,
  ConversationStore,
  InboxSettingsSource,
  Logger,
  MailboxPort,
  TicketStore,
} from "./ports.ts";
import { isOpenAt } from "./working_hours.ts";

/** What the bridge recorded about who spoke last (store/answer_waits.ts). */
export interface AnswerWaits {
  /**
   * Conversations whose last message is an agent's reply delivered before `beforeMs`, that the
   * user has not answered and that had no check-in since the user's last message (≤ `max`).
   */
  agentLastBefore(
    beforeMs: number,
    max: number,
  ): AsyncIterable<{ conversationId: number; userId: string; agentAt: number }>;
  /** Records the check-in; false when one was recorded since (another instance). */
  markNudged(conversationId: number, at: number): Promise<boolean>;
  /**
   * The wait is over (checked in on, or the ticket is no longer open): its record goes, unless
   * an agent replied again since (`agentAt` is no longer the last reply).
   */
  settle(conversationId: number, agentAt: number): Promise<void>;
}

export interface NudgeDeps {
  waits: AnswerWaits;
  tickets: TicketStore;
  conversations: ConversationStore;
  chatwoot: ChatwootPort;
  inbox: InboxSettingsSource;
  mailbox: MailboxPort;
  afterMs: number;
  log: Logger;
  now?: () => number;
}

const MAX_NUDGES_PER_RUN = 100;
/** Waits looked at per run (each settled one is deleted, so the list holds only live waits). */
const MAX_SCANNED_PER_RUN = 1_000;
export const NUDGE_CUSTOM_ID_PREFIX = "nudge:";

/** One scheduled run: sends the check-ins that are due. */
export async function nudgeStaleTickets(
  deps: NudgeDeps,
): Promise<{ nudged: number; apiCalls: number }> {
  const now = (deps.now ?? Date.now)();
  const settings = await deps.inbox.get();
  if (!isOpenAt(scheduleOf(settings), now)) return { nudged: 0, apiCalls: 0 };
  let nudged = 0;
  let apiCalls = 0;
  for await (const due of deps.waits.agentLastBefore(now - deps.afterMs, MAX_SCANNED_PER_RUN)) {
    if (nudged >= MAX_NUDGES_PER_RUN) break;
    const ticket = await deps.tickets.get(due.userId);
    // Only the user's current ticket, while it is open (as last seen, then as Chatwoot says).
    const known = await deps.conversations.get(due.conversationId);
    if (
      ticket?.conversationId !== due.conversationId || (known && known.status !== "open") ||
      (apiCalls++, (await deps.chatwoot.getConversation(due.conversationId)).status !== "open")
    ) {
      await deps.waits.settle(due.conversationId, due.agentAt);
      continue;
    }
    const item = nudgeNotice(due.userId, due.conversationId, due.agentAt);
    await deps.mailbox.append({
      dir: "out",
      userId: due.userId,
      items: [{ seq: mailboxSeqAt("out", now), item }],
      dedupe: { kind: "notice", id: item.noticeId },
    });
    if (await deps.waits.markNudged(due.conversationId, now)) nudged++;
    await deps.waits.settle(due.conversationId, due.agentAt);
  }
  if (nudged) deps.log.info("stale tickets checked in on", { nudged, apiCalls });
  return { nudged, apiCalls };
}

function nudgeNotice(userId: string, conversationId: number, agentAt: number) {
  return notice(
    userId,
    `nudge:${conversationId}:${agentAt}`,
    {
      tone: "primary",
      title: "Still need help?",
      description:
        `We have not heard from you since our last reply on ticket #${conversationId}. ` +
        "Is there anything else we can do?",
    },
    { rows: nudgeRows(conversationId, agentAt) },
  );
}

/** The check-in's buttons: `nudge:<conversation>:<the agent reply's time>:<y|s>`. */
function nudgeRows(conversationId: number, agentAt: number, chosen?: "y" | "s"): ComponentRow[] {
  const button = (answer: "y" | "s", label: string) => ({
    label,
    customId: `${NUDGE_CUSTOM_ID_PREFIX}${conversationId}:${agentAt}:${answer}`,
    style: chosen === answer
      ? "success" as const
      : chosen
      ? "secondary" as const
      : "primary" as const,
    disabled: chosen !== undefined,
  });
  return [{ buttons: [button("y", "Yes, I still need help"), button("s", "It's solved")] }];
}

/** The user pressed a check-in button: the note or the close, and the buttons disabled. */
export async function answerNudge(
  deps: CommandDeps & {
    /** True the first time (kind, id) is seen: one check-in answer tells the agents once. */
    once(kind: string, id: string): Promise<boolean>;
  },
  userId: string,
  customId: string,
): Promise<{ result: NoticeEmbed; rows?: ComponentRow[] }> {
  const m = /^nudge:(\d{1,15}):(\d{1,15}):([ys])$/.exec(customId);
  const ticket = await deps.tickets.get(userId);
  if (!m || ticket?.conversationId !== Number(m[1])) {
    return { result: { tone: "info", description: "This ticket is no longer open." } };
  }
  const conversationId = Number(m[1]);
  const agentAt = Number(m[2]);
  const answer = m[3] as "y" | "s";
  if (answer === "s") {
    const result = await closeTicket(deps, userId, "Solved (answered the check-in on Discord)");
    return {
      result,
      rows: result.tone === "success" ? nudgeRows(conversationId, agentAt, "s") : undefined,
    };
  }
  const answered: NoticeEmbed = {
    tone: "success",
    description: "Thanks, our team knows. We will get back to you here.",
  };
  // A double click (or a replayed one) tells the agents once.
  if (!(await deps.once("nudge_answer", `${conversationId}:${agentAt}`))) {
    return { result: answered, rows: nudgeRows(conversationId, agentAt, "y") };
  }
  try {
    await deps.chatwoot.createPrivateNote(
      conversationId,
      "The customer still needs help (answered the check-in on Discord).",
    );
  } catch (error) {
    deps.log.warn("check-in answer not passed on", { error: describeError(error) });
    return {
      result: { tone: "warning", description: "That did not reach our team; please try again." },
    };
  }
  return { result: answered, rows: nudgeRows(conversationId, agentAt, "y") };
}
