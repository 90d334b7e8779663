/**
 * The inbound mailbox's use cases (everything that goes to Chatwoot): each kind of item → what delivers it →
 * what it leaves behind (see items.ts). Exhaustive over the inbound kinds.
 */
import { submitRating } from "./csat.ts";
import type { CsatDeps } from "./csat.ts";
import { type DmChangeDeps, forwardDmChange } from "./dm_changes.ts";
import { forwardDm, type InboundDeps } from "./inbound.ts";
import { type AnswerDeliveryDeps, deliverAnswer } from "./interactive_answers.ts";
import type { Completion, Deliverers, NoticeEmbed } from "./items.ts";
import type { InteractionReplies, Logger } from "./ports.ts";
import { alertAgent, reportDeliveryStatus } from "./undelivered.ts";

export interface InboundDeliveryDeps {
  dms: Omit<InboundDeps, "checkpoint">;
  changes: DmChangeDeps;
  answers: AnswerDeliveryDeps;
  csat: CsatDeps;
  replies: InteractionReplies;
  log: Logger;
}

export function inboundDeliverers(deps: InboundDeliveryDeps): Deliverers<"in"> {
  return {
    async dm(dm, attempt): Promise<Completion<"in">> {
      const forwarded = await forwardDm(
        { ...deps.dms, checkpoint: (progress) => attempt.checkpoint(progress) },
        dm,
        attempt.progress,
        attempt,
      );
      if (dm.viaCommand) await answerCommand(deps, dm.viaCommand.interactionToken, forwarded);
      return {
        ...(dm.channelId
          ? {
            userWrote: {
              channelId: dm.channelId,
              messageId: dm.messageId,
              ...(dm.inThread ? { inThread: true as const } : {}),
            },
          }
          : {}),
        ...(forwarded
          ? {
            relayed: {
              chatwootMessageId: forwarded.chatwootMessageId,
              discordMessageIds: [dm.messageId],
              conversationId: forwarded.conversationId,
            },
            lastSpeaker: { conversationId: forwarded.conversationId, who: "user" },
          }
          : {}),
      };
    },
    dm_edit: (change, attempt) => relayChange(deps, change, attempt),
    dm_delete: (change, attempt) => relayChange(deps, change, attempt),
    csat_rating: (rating) => submitRating(deps.csat, rating),
    async interactive_answer(answer, attempt): Promise<Completion<"in">> {
      await deliverAnswer(deps.answers, answer, attempt);
      // Answering with a click is answering (no "Still need help?" for it).
      return { lastSpeaker: { conversationId: answer.conversationId, who: "user" } };
    },
    // The bridge's own updates to Chatwoot (undelivered.ts).
    delivery_status: (status) => reportDeliveryStatus(deps.changes, status),
    agent_alert: (alert) => alertAgent(deps.changes, alert),
  };
}

async function relayChange(
  deps: InboundDeliveryDeps,
  change: Parameters<typeof forwardDmChange>[1],
  attempt: { firstAttempt: boolean },
): Promise<Completion<"in">> {
  const posted = await forwardDmChange(deps.changes, change, attempt);
  return posted
    ? {
      relayed: {
        chatwootMessageId: posted.chatwootMessageId,
        discordMessageIds: [],
        conversationId: posted.conversationId,
      },
    }
    : {};
}

/** A message sent with the ticket command is answered in its interaction. */
async function answerCommand(
  deps: InboundDeliveryDeps,
  interactionToken: string,
  forwarded: { conversationId: number } | undefined,
) {
  const answer: NoticeEmbed = forwarded
    ? {
      tone: "success",
      title: "Message sent",
      description: `Our team has it (ticket #${forwarded.conversationId}). ` +
        "Answers arrive as messages from me.",
    }
    : { tone: "warning", description: "Your message was not passed on; see the DM we sent you." };
  await deps.replies.editReply(interactionToken, answer).catch((error) =>
    deps.log.debug("could not answer the interaction", { error: String(error) })
  );
}
