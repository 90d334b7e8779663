/**
 * What an interactive message looks like on Discord, before and after the
 * user answers: options as buttons (up to 5) or a select menu (up to 25),
 * cards and articles as embeds with their buttons, a form or an email request
 * as a button that opens a modal. Once answered, everything that answers is
 * disabled and the answer is marked.
 *
 * Discord's limits shape it: 5 rows of components and 10 embeds per message,
 * 5 buttons per row. Cards with buttons go 5 to a message.
 */
import {
  type Card,
  formPartCount,
  type InteractiveContent,
  interactiveCustomId,
  type SubmittedValue,
} from "./interactive.ts";
import type { ActionButton, ComponentRow, MessageCard } from "./items.ts";
import type { InteractivePrompt } from "./prompts.ts";

/** What the user did so far, as the interactive record keeps it (store: interactive prompts). */
export type InteractiveState = Pick<InteractivePrompt, "answer" | "partsDone">;

/** One Discord message's worth of an interactive message (its text travels separately). */
export interface InteractivePiece {
  cards?: MessageCard[];
  rows: ComponentRow[];
}

const CARDS_PER_MESSAGE = 5;
const BUTTONS_PER_ROW = 5;

/** Every piece of an interactive message, in order. */
export function interactivePieces(
  chatwootMessageId: number,
  content: InteractiveContent,
  state: InteractiveState = {},
): InteractivePiece[] {
  switch (content.type) {
    case "cards": {
      const pieces: InteractivePiece[] = [];
      for (let first = 0; first < content.cards.length; first += CARDS_PER_MESSAGE) {
        pieces.push(cardsPiece(chatwootMessageId, content.cards, first, state));
      }
      return pieces;
    }
    case "article":
      return [{
        cards: withinEmbedTotal(content.articles.map((a) => ({
          title: a.title,
          description: a.description || undefined,
          url: a.link,
        }))),
        rows: rowsOf(content.articles.map((a) => ({ label: cut(a.title, 80), url: a.link }))),
      }];
    default:
      return [{ rows: answerRows(chatwootMessageId, content, state) }];
  }
}

/** The piece holding card `card` (a postback answers on the message that shows it). */
export function pieceWithCard(
  chatwootMessageId: number,
  content: InteractiveContent & { type: "cards" },
  card: number,
  state: InteractiveState,
): InteractivePiece {
  const first = Math.floor(card / CARDS_PER_MESSAGE) * CARDS_PER_MESSAGE;
  return cardsPiece(chatwootMessageId, content.cards, first, state);
}

function cardsPiece(
  id: number,
  cards: Card[],
  first: number,
  state: InteractiveState,
): InteractivePiece {
  const shown = cards.slice(first, first + CARDS_PER_MESSAGE);
  return {
    cards: withinEmbedTotal(shown.map((c) => ({
      title: c.title || undefined,
      description: c.description || undefined,
      imageUrl: c.mediaUrl,
    }))),
    rows: shown.map((c, offset) => ({
      buttons: c.actions.map((a, index): ActionButton =>
        a.type === "link" ? { label: a.text, url: a.uri } : {
          label: a.text,
          customId: interactiveCustomId(id, { action: "postback", card: first + offset, index }),
          ...answeredStyle(state, a.text),
        }
      ),
    })).filter((row) => row.buttons.length > 0),
  };
}

function answerRows(
  id: number,
  content: Exclude<InteractiveContent, { type: "cards" | "article" }>,
  state: InteractiveState,
): ComponentRow[] {
  switch (content.type) {
    case "input_select":
      if (content.options.length <= BUTTONS_PER_ROW) {
        return [{
          buttons: content.options.map((o, index) => ({
            label: cut(o.title, 80),
            customId: interactiveCustomId(id, { action: "option", index }),
            ...answeredStyle(state, o.title),
          })),
        }];
      }
      return [{
        select: {
          customId: interactiveCustomId(id, { action: "select" }),
          placeholder: state.answer ? cut(`✅ ${state.answer}`, 150) : "Choose an option",
          options: content.options.map((o, index) => ({ label: o.title, value: String(index) })),
          disabled: state.answer !== undefined,
        },
      }];
    case "form": {
      const parts = formPartCount(content.fields);
      const label = content.buttonLabel || "Fill in";
      return rowsOf(
        Array.from({ length: parts }, (_, part): ActionButton => {
          const done = state.partsDone?.includes(part) ?? false;
          return {
            label: state.answer !== undefined
              ? "✅ Sent"
              : `${done ? "✓ " : ""}${label}${parts > 1 ? ` (${part + 1}/${parts})` : ""}`,
            customId: interactiveCustomId(id, { action: "form", part }),
            style: done || state.answer !== undefined ? "success" : "primary",
            disabled: state.answer !== undefined,
          };
        }).slice(0, state.answer !== undefined ? 1 : undefined),
      );
    }
    case "input_email":
      return [{
        buttons: [{
          label: state.answer !== undefined ? cut(`✅ ${state.answer}`, 80) : "Enter your email",
          customId: interactiveCustomId(id, { action: "email" }),
          style: state.answer !== undefined ? "success" : "primary",
          disabled: state.answer !== undefined,
        }],
      }];
  }
}

/** Once answered: the answer green, every answering button disabled. */
function answeredStyle(state: InteractiveState, label: string): Partial<ActionButton> {
  if (state.answer === undefined) return { style: "primary" };
  return { style: state.answer === label ? "success" : "secondary", disabled: true };
}

function rowsOf(buttons: ActionButton[]): ComponentRow[] {
  const rows: ComponentRow[] = [];
  for (let i = 0; i < buttons.length && rows.length < 5; i += BUTTONS_PER_ROW) {
    rows.push({ buttons: buttons.slice(i, i + BUTTONS_PER_ROW) });
  }
  return rows;
}

/** Discord refuses a message whose embeds hold more than 6000 characters in all. */
const EMBED_TOTAL = 5_800;

/** Cards' descriptions shortened evenly so that the message's embeds fit Discord's total. */
function withinEmbedTotal(cards: MessageCard[]): MessageCard[] {
  const titles = cards.reduce((n, c) => n + (c.title?.length ?? 0), 0);
  const descriptions = cards.reduce((n, c) => n + (c.description?.length ?? 0), 0);
  if (titles + descriptions <= EMBED_TOTAL) return cards;
  const each = Math.max(0, Math.floor((EMBED_TOTAL - titles) / cards.length));
  return cards.map((c) =>
    c.description && c.description.length > each
      ? { ...c, description: each > 1 ? cut(c.description, each) : undefined }
      : c
  );
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The answer as plain text, for the record and for agents' logs. */
export function describeAnswer(values: SubmittedValue[]): string {
  return values.map((v) => v.title ?? (v.name ? `${v.name}: ${v.value}` : v.value)).join(", ");
}
