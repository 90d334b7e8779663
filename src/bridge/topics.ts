/**
 * Topic intake (TICKET_TOPICS): before a DM opens a **new** ticket, the user
 * picks a topic from a menu, and the conversation opens with that topic's
 * team, labels, priority and a `topic` custom attribute.
 *
 * The DM that would open the ticket waits in the user's inbound mailbox (with
 * everything the user writes after it, in order) until the pick, or until
 * TOPIC_TIMEOUT_MINUTES have passed; then the ticket opens without a topic.
 * Nothing the user sent is ever dropped because they ignored the menu. A
 * continued ticket never asks.
 */
import { describeError, WaitForUser } from "./errors.ts";
import { menuIndex } from "./interactive.ts";
import { mailboxSeqAt } from "./intake.ts";
import type { ComponentRow, UserNotice } from "./items.ts";
import { notice } from "./notices.ts";
import type { ChatwootPort, InteractionReplies, Logger, MailboxPort } from "./ports.ts";
import type { Topic, TopicPick, TopicPickStore } from "./prompts.ts";

export interface TopicDeps {
  topics: Topic[];
  timeoutMs: number;
  picks: TopicPickStore;
  mailbox: MailboxPort;
  /** The ticket command's message asks in its own (private) answer. */
  replies: InteractionReplies;
  log: Logger;
  now?: () => number;
}

/** A pick this long past its menu's deadline is left over (kept at most a day, see the store). */
const STALE_AFTER_DEADLINE_MS = 3600_000;

/** Custom ids of the topic menu: `topic:<askedAt>`. */
export const TOPIC_CUSTOM_ID_PREFIX = "topic:";

/**
 * The topic of the ticket about to open: undefined when topics are off or the
 * menu timed out. While the user has not picked yet, throws WaitForUser (the
 * DM waits in its mailbox, and the menu is sent once).
 */
export async function topicForNewTicket(
  deps: TopicDeps,
  userId: string,
  /** The message came with the ticket command: the menu goes into the command's answer. */
  viaCommand?: { interactionToken: string },
): Promise<Topic | undefined> {
  if (!deps.topics.length) return undefined;
  const now = (deps.now ?? Date.now)();
  let pick = await deps.picks.start(userId, { askedAt: now, deadline: now + deps.timeoutMs });
  // A pick left over from a ticket whose opening was cut short long ago is not this ticket's.
  if (now > pick.deadline + STALE_AFTER_DEADLINE_MS) {
    await deps.picks.clear(userId);
    pick = await deps.picks.start(userId, { askedAt: now, deadline: now + deps.timeoutMs });
  }
  if (pick.picked !== undefined) return deps.topics.find((t) => t.label === pick.picked);
  if (now >= pick.deadline) {
    deps.log.info("no topic picked in time: the ticket opens without one", {
      discordUserId: userId,
    });
    return undefined;
  }
  const menu = topicMenu(deps.topics, userId, pick);
  if (viaCommand) {
    // Shown where the user is (any server or DM), not in DMs they may have closed.
    const shown = await deps.replies.editReply(viaCommand.interactionToken, menu.embed, menu.rows)
      .then(() => true, (error) => {
        deps.log.warn("topic menu not shown in the command's answer; sending it by DM", {
          discordUserId: userId,
          error: describeError(error),
        });
        return false;
      });
    if (shown) throw new WaitForUser(pick.deadline, "waiting for the user to pick a topic");
  }
  // Queued on every attempt until picked (the dedupe key sends it once): a failed append retries.
  const queued = await deps.mailbox.append({
    dir: "out",
    userId,
    items: [{ seq: mailboxSeqAt("out", now), item: menu }],
    dedupe: { kind: "notice", id: `topic:${userId}:${pick.askedAt}` },
  });
  if (queued) deps.log.info("topic menu sent", { discordUserId: userId });
  throw new WaitForUser(pick.deadline, "waiting for the user to pick a topic");
}

function topicMenu(topics: Topic[], userId: string, pick: TopicPick): UserNotice {
  return notice(
    userId,
    `topic:${pick.askedAt}`,
    {
      tone: "primary",
      title: "What can we help you with?",
      description: "Pick a topic so the right team gets your message. " +
        "Everything you write meanwhile is kept and sent with it.",
    },
    { rows: topicRows(topics, pick) },
  );
}

function topicRows(topics: Topic[], pick: TopicPick): ComponentRow[] {
  return [{
    select: {
      customId: `${TOPIC_CUSTOM_ID_PREFIX}${pick.askedAt}`,
      placeholder: pick.picked ? `✅ ${pick.picked}` : "Choose a topic",
      options: topics.map((t, i) => ({
        label: t.label,
        value: String(i),
        ...(t.description ? { description: t.description } : {}),
        ...(t.emoji ? { emoji: t.emoji } : {}),
      })),
      disabled: pick.picked !== undefined,
    },
  }];
}

export type TopicPickOutcome =
  | { kind: "picked"; rows: ComponentRow[] }
  | { kind: "note"; text: string };

/** The user picked from the menu: recorded, and their waiting DMs are let through. */
export async function pickTopic(
  deps: Pick<TopicDeps, "topics" | "picks" | "log" | "now"> & {
    /** Runs the user's inbound mailbox now (its head DM waits for this pick). */
    resume(userId: string): void;
  },
  userId: string,
  customId: string,
  value: string | undefined,
): Promise<TopicPickOutcome> {
  const askedAt = Number(customId.slice(TOPIC_CUSTOM_ID_PREFIX.length));
  const index = menuIndex(value);
  const topic = index === undefined ? undefined : deps.topics[index];
  const current = await deps.picks.get(userId);
  const expired = {
    kind: "note",
    text: "This menu has expired: your message was passed on without a topic.",
  } as const;
  if (!topic || !current || current.askedAt !== askedAt) return expired;
  if (current.picked !== undefined) {
    return { kind: "note", text: `You already picked “${current.picked}”.` };
  }
  if ((deps.now ?? Date.now)() >= current.deadline) return expired;
  if (!(await deps.picks.choose(userId, askedAt, topic.label))) return expired;
  deps.log.info("topic picked", { discordUserId: userId, topic: topic.label });
  deps.resume(userId);
  return { kind: "picked", rows: topicRows(deps.topics, { ...current, picked: topic.label }) };
}

/**
 * Labels and priority of a topic's new conversation (the team and the custom
 * attribute go with its creation). Both calls set a value, so a retry repeats
 * them harmlessly.
 */
export async function applyTopic(
  deps: { chatwoot: ChatwootPort },
  conversationId: number,
  topic: Pick<Topic, "labels" | "priority">,
): Promise<void> {
  if (topic.labels?.length) await deps.chatwoot.setConversationLabels(conversationId, topic.labels);
  if (topic.priority) await deps.chatwoot.setConversationPriority(conversationId, topic.priority);
}
