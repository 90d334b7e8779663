/**
 * CSAT: Chatwoot's survey becomes a "Rate us" button in the DM; the button
 * opens a form; the rating goes to Chatwoot's public survey endpoint.
 *
 * The submission travels through the user's inbound mailbox, so a Chatwoot
 * outage delays it but never loses it; the user hears the outcome (in the
 * interaction while its token lives, by DM after that).
 */
import { isServiceStatus } from "./errors.ts";
import type { CsatPromptItem, CsatSubmission, NoticeEmbed } from "./items.ts";
import { notice } from "./notices.ts";
import { type NoticeDeps, sendNotice } from "./outbound.ts";
import type { ChatwootPort, CsatStore, InteractionReplies, MailboxPort } from "./ports.ts";

export const CSAT_CUSTOM_ID_PREFIX = "csat:";
export const CSAT_COMMENT_MAX = 500;

export interface CsatTexts {
  question: string;
  buttonLabel: string;
  commentEnabled: boolean;
  commentPlaceholder: string;
}

/** What the survey's use cases need: asking (a notice with a button) and submitting. */
export type CsatDeps = NoticeDeps & {
  chatwoot: ChatwootPort;
  replies: InteractionReplies;
  texts: CsatTexts;
};

export function csatButton(uuid: string, label: string, disabled = false) {
  return { customId: `${CSAT_CUSTOM_ID_PREFIX}${uuid}`, label, disabled };
}

/** Outbound step: show the question with its button (reading the survey id if the link lacked it). */
export async function askForRating(
  deps: CsatDeps,
  item: CsatPromptItem,
): Promise<void> {
  const uuid = item.uuid ?? (await deps.chatwoot.getConversation(item.conversationId)).uuid;
  if (!uuid) throw new Error(`conversation ${item.conversationId} has no survey id`);
  await sendNotice(
    deps,
    notice(
      item.discordUserId,
      `csat:${uuid}`,
      { tone: "primary", title: "How did we do?", description: deps.texts.question },
      {
        button: csatButton(uuid, deps.texts.buttonLabel),
        csat: { uuid, conversationId: item.conversationId },
      },
    ),
  );
}

export type RatingCheck =
  | { ok: true; rating: number; comment: string }
  | { ok: false; problem: string };

/** Validates the form: a whole number from 1 to 5, a comment of at most 500 characters. */
export function checkRating(ratingText: string, commentText: string | undefined): RatingCheck {
  const trimmed = ratingText.trim();
  if (!/^[1-5]$/.test(trimmed)) {
    return { ok: false, problem: "Please rate with a whole number from 1 (poor) to 5 (great)." };
  }
  const comment = (commentText ?? "").trim();
  if (comment.length > CSAT_COMMENT_MAX) {
    return { ok: false, problem: `Please keep the comment under ${CSAT_COMMENT_MAX} characters.` };
  }
  return { ok: true, rating: Number(trimmed), comment };
}

/** Whether this user may rate this survey now: it is theirs and not rated yet. */
export async function ratingAllowed(
  deps: { csat: CsatStore },
  uuid: string,
  userId: string,
): Promise<{ ok: true } | { ok: false; embed: NoticeEmbed }> {
  const prompt = await deps.csat.get(uuid);
  if (!prompt || prompt.userId !== userId) {
    return {
      ok: false,
      embed: { tone: "warning", description: "This survey is not available any more." },
    };
  }
  if (prompt.rating !== undefined) {
    return {
      ok: false,
      embed: {
        tone: "info",
        title: "Already rated",
        description: `You already rated this conversation ${prompt.rating}/5. Thank you!`,
      },
    };
  }
  return { ok: true };
}

/** Queues a validated rating for submission. */
export async function acceptRating(
  deps: { mailbox: MailboxPort },
  submission: CsatSubmission,
): Promise<void> {
  await deps.mailbox.append({
    dir: "in",
    userId: submission.discordUserId,
    items: [{ seq: BigInt(Date.now()) * 1000n, item: submission }],
    dedupe: { kind: "csat", id: submission.uuid },
  });
}

/** Inbound step: send the rating to Chatwoot, then close the survey for the user. */
export async function submitRating(
  deps: CsatDeps,
  item: CsatSubmission,
): Promise<void> {
  const log = deps.log.child({ discordUserId: item.discordUserId, csat: item.uuid });
  let outcome: NoticeEmbed;
  try {
    await deps.chatwoot.submitCsat(item.uuid, { rating: item.rating, feedback: item.comment });
    outcome = {
      tone: "success",
      title: "Thank you!",
      description: `Your rating of ${item.rating}/5 was sent to our team.`,
    };
    log.info("csat submitted", { rating: item.rating });
  } catch (error) {
    if (!isServiceStatus(error, "chatwoot", 422)) throw error; // kept and retried
    outcome = {
      tone: "warning",
      title: "Survey closed",
      description:
        "Ratings are accepted for 14 days after a conversation, and this one is older. " +
        "Thank you all the same!",
    };
    log.info("csat refused: survey older than 14 days");
  }
  const prompt = await deps.csat.get(item.uuid);
  if (prompt) await deps.csat.save({ ...prompt, rating: item.rating });
  if (prompt?.messageId) {
    await deps.discord.editMessage(prompt.channelId, prompt.messageId, {
      embed: {
        tone: "primary",
        title: "How did we do?",
        description: `${deps.texts.question}\n\n**Your rating:** ${
          "⭐".repeat(item.rating)
        } (${item.rating}/5)`,
      },
      button: csatButton(item.uuid, deps.texts.buttonLabel, true),
    }).catch((error) => log.warn("could not disable the rating button", { error: String(error) }));
  }
  await deps.replies.editReply(item.interactionToken, outcome).catch(async () => {
    // The interaction token is valid for 15 minutes; after that, tell the user by DM.
    if (prompt) await deps.discord.sendMessage(prompt.channelId, { embed: outcome });
  });
}
