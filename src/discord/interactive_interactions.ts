/**
 * Discord's side of interactive messages (custom ids `ia:…`): a button or a
 * select menu answers at once (the click is acknowledged within Discord's
 * 3 seconds, then the message is updated to show the answer); a form part or
 * the email request opens a modal, whose submission is checked and answered
 * the same way. The checks and the queueing are the bridge's
 * (src/bridge/interactive_answers.ts).
 */
import { InteractionResponseTypes, MessageComponentTypes, TextStyles } from "@discordeno/bot";
import { type InteractiveAction, interactiveCustomId } from "../bridge/interactive.ts";
import {
  acceptAnswer,
  type AnswerIntakeDeps,
  type AnswerModal,
  type AnswerOutcome,
  modalFor,
} from "../bridge/interactive_answers.ts";
import { renderCards, renderRows } from "./embeds.ts";
import type { BrandingConfig } from "../config.ts";

/** Interaction message flag: only the user who interacted sees it. */
export const EPHEMERAL = 64;

export interface InteractiveInteraction {
  /** 3: a component was used; 5: a modal was submitted. */
  type: number;
  userId: string;
  chatwootMessageId: number;
  action: InteractiveAction;
  /** A select menu's chosen values. */
  values?: string[];
  /** A modal's values by input id. */
  fields: Record<string, string>;
}

export interface InteractiveResponder {
  respond(type: InteractionResponseTypes, data?: Record<string, unknown>): Promise<void>;
  /** Edits the message the component is on (after a deferred update). */
  editOriginal(data: Record<string, unknown>): Promise<void>;
  /** A private message to the user only, after the first response. */
  followUp(message: { content?: string; embeds?: unknown[] }): Promise<void>;
}

export async function handleInteractiveInteraction(
  deps: AnswerIntakeDeps & { branding: BrandingConfig },
  i: InteractiveInteraction,
  responder: InteractiveResponder,
): Promise<void> {
  const opensModal = i.action.action === "form" || i.action.action === "email";
  if (i.type === 3 && opensModal) {
    const modal = await modalFor(deps, i.userId, i.chatwootMessageId, i.action);
    if ("kind" in modal) return await note(responder, modal.text);
    return await responder.respond(InteractionResponseTypes.Modal, renderModal(i, modal));
  }
  if (i.type === 5 && !opensModal) return;
  // A valid answer is acknowledged before it is stored (a storage write), then shown.
  let acknowledged = false;
  const outcome = await acceptAnswer(
    deps,
    i.userId,
    i.chatwootMessageId,
    i.action,
    { values: i.values, fields: i.fields },
    async () => {
      if (acknowledged) return;
      acknowledged = true;
      await responder.respond(InteractionResponseTypes.DeferredUpdateMessage);
    },
  );
  if (!acknowledged && outcome.kind === "note") return await note(responder, outcome.text);
  await show(deps, responder, outcome);
}

async function show(
  deps: { branding: BrandingConfig },
  responder: InteractiveResponder,
  outcome: AnswerOutcome,
): Promise<void> {
  // The click was acknowledged as an update: a note goes as a private follow-up.
  if (outcome.kind === "note") return await responder.followUp({ content: outcome.text });
  await responder.editOriginal({
    ...(outcome.piece.cards ? { embeds: renderCards(outcome.piece.cards, deps.branding) } : {}),
    components: renderRows(outcome.piece.rows),
  });
}

/** A private message to the user only. */
function note(responder: InteractiveResponder, text: string): Promise<void> {
  return responder.respond(InteractionResponseTypes.ChannelMessageWithSource, {
    content: text,
    flags: EPHEMERAL,
  });
}

function renderModal(i: InteractiveInteraction, modal: AnswerModal) {
  return {
    customId: interactiveCustomId(i.chatwootMessageId, i.action),
    title: modal.title.slice(0, 45),
    components: modal.inputs.map((input) => ({
      type: MessageComponentTypes.ActionRow,
      components: [{
        type: MessageComponentTypes.InputText,
        customId: input.id,
        label: input.label || "Answer",
        style: input.long ? TextStyles.Paragraph : TextStyles.Short,
        required: true,
        maxLength: input.maxLength,
        ...(input.placeholder ? { placeholder: input.placeholder } : {}),
        ...(input.value ? { value: input.value.slice(0, input.maxLength) } : {}),
      }],
    })),
  };
}
