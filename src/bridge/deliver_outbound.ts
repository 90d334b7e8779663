/**
 * The outbound mailbox's use cases (everything that goes to the user on Discord): each kind of item → what delivers it →
 * what it leaves behind (see items.ts). Exhaustive over the outbound kinds.
 */
import { askForRating, type CsatDeps } from "./csat.ts";
import type { Completion, Deliverers } from "./items.ts";
import {
  deleteAgentMessage,
  type NoticeDeps,
  type OutboundDeps,
  relayReply,
  sendNotice,
} from "./outbound.ts";
import { deliveryStatusFor } from "./undelivered.ts";

export interface OutboundDeliveryDeps {
  replies: Omit<OutboundDeps, "checkpoint"> & NoticeDeps;
  csat: CsatDeps;
  /** An agent's reply went out: their typing indicator ends. */
  replied(discordUserId: string): void;
}

export function outboundDeliverers(deps: OutboundDeliveryDeps): Deliverers<"out"> {
  const { replies } = deps;
  return {
    async reply(reply, attempt): Promise<Completion<"out">> {
      deps.replied(reply.discordUserId);
      const outcome = await relayReply(
        { ...replies, checkpoint: (progress) => attempt.checkpoint(progress) },
        reply,
        attempt.progress,
        attempt,
      );
      // Later segments of a very long reply add to the link themselves (outbound.ts).
      const sent = outcome.status === "delivered" && !reply.segment
        ? outcome.discordMessageIds
        : [];
      const markDelivered = outcome.status !== "undeliverable" && !reply.segment;
      return {
        relayed: {
          chatwootMessageId: reply.chatwootMessageId,
          discordMessageIds: sent,
          conversationId: reply.conversationId,
        },
        // Marked delivered by an item of its own: a failing status update never resends.
        ...(markDelivered ? { followUps: [deliveryStatusFor(reply)] } : {}),
        ...(outcome.status === "delivered"
          ? { lastSpeaker: { conversationId: reply.conversationId, who: "agent" } }
          : {}),
      };
    },
    notice: (notice) => sendNotice(replies, notice),
    csat_prompt: (prompt) => askForRating(deps.csat, prompt),
    agent_delete: (deletion) => deleteAgentMessage(replies, deletion),
  };
}
