/**
 * A user answers an interactive message: the click or the form reaches the
 * bridge as a Discord interaction (src/discord/interactive_interactions.ts),
 * is checked here, and is queued in the user's inbound mailbox, once per
 * message (a double click, a second option or a replayed interaction answers
 * nothing more). Delivering it writes the answer back the way Chatwoot's web
 * widget does (`submitted_values` on the message), and posts the chosen
 * option as the contact's message so that bots and automations that read new
 * messages continue too.
 */
import { isServiceStatus } from "./errors.ts";
import { findBySourceId } from "./inbound.ts";
import { mailboxSeqAt } from "./intake.ts";
import {
  answerLimit,
  checkFormPart,
  fieldInputId,
  formPart,
  formPartCount,
  formSubmission,
  type InteractiveAction,
  isEmail,
  MAX_ANSWER_CHARS,
  menuIndex,
  ownValue,
  type PatternCheck,
} from "./interactive.ts";
import {
  describeAnswer,
  type InteractivePiece,
  interactivePieces,
  pieceWithCard,
} from "./interactive_view.ts";
import type { AnswerProgress, InteractiveAnswer } from "./items.ts";
import type {
  ChatwootPort,
  ConversationStore,
  InboxSettingsSource,
  Logger,
  MailboxPort,
  TicketStore,
} from "./ports.ts";
import type { InteractivePrompt, InteractiveStore } from "./prompts.ts";

export interface AnswerIntakeDeps {
  interactive: InteractiveStore;
  mailbox: MailboxPort;
  /** An answer belongs to the user's current ticket: an older one's would reopen it. */
  tickets: TicketStore;
  /** Runs a form field's pattern where it cannot stall the bridge. */
  patterns: PatternCheck;
  log: Logger;
}

/** What the user sees after a click or a form: the message updated, or a short private note. */
export type AnswerOutcome = { kind: "updated"; piece: InteractivePiece } | AnswerNote;
export interface AnswerNote {
  kind: "note";
  text: string;
}

/** A modal to open for a form part or the email request. */
export interface AnswerModal {
  title: string;
  inputs: {
    id: string;
    label: string;
    long: boolean;
    placeholder?: string;
    value?: string;
    maxLength: number;
  }[];
}

const NOT_AVAILABLE: AnswerNote = {
  kind: "note",
  text: "This message cannot be answered any more.",
};

/** The prompt, when this user may still answer it. */
async function openPrompt(
  deps: AnswerIntakeDeps,
  chatwootMessageId: number,
  userId: string,
): Promise<{ prompt: InteractivePrompt } | { outcome: AnswerNote }> {
  const prompt = await deps.interactive.get(chatwootMessageId);
  if (!prompt || prompt.userId !== userId) return { outcome: NOT_AVAILABLE };
  if ((await deps.tickets.get(userId))?.conversationId !== prompt.conversationId) {
    return { outcome: NOT_AVAILABLE };
  }
  if (prompt.answer !== undefined) {
    return { outcome: { kind: "note", text: `You already answered: ${prompt.answer}` } };
  }
  return { prompt };
}

/** The modal of a form part or of the email request; a note when it cannot be answered. */
export async function modalFor(
  deps: AnswerIntakeDeps,
  userId: string,
  chatwootMessageId: number,
  action: InteractiveAction,
): Promise<AnswerModal | AnswerNote> {
  const open = await openPrompt(deps, chatwootMessageId, userId);
  if ("outcome" in open) return open.outcome;
  const { content, formValues } = open.prompt;
  if (action.action === "email" && content.type === "input_email") {
    return {
      title: "Your email address",
      inputs: [{
        id: "email",
        label: "Email",
        long: false,
        placeholder: "you@example.com",
        maxLength: 254,
      }],
    };
  }
  if (action.action === "form" && content.type === "form") {
    const parts = formPartCount(content.fields);
    if (action.part >= parts) return NOT_AVAILABLE;
    return {
      title: parts > 1 ? `Fill in (${action.part + 1}/${parts})` : "Fill in",
      inputs: formPart(content.fields, action.part).map((f, i) => ({
        id: fieldInputId(i),
        label: f.label.slice(0, 45),
        long: f.type === "text_area",
        placeholder: f.type === "select"
          ? `One of: ${(f.options ?? []).map((o) => o.label).join(", ")}`.slice(0, 100)
          : f.placeholder?.slice(0, 100),
        value: ownValue(formValues, f.name) ?? f.default,
        maxLength: f.type === "email" ? 254 : answerLimit(content.fields.length),
      })),
    };
  }
  return NOT_AVAILABLE;
}

/**
 * A click on an option, a select menu or a card's postback button, or a
 * submitted form part or email: checked, then queued as the answer.
 */
export async function acceptAnswer(
  deps: AnswerIntakeDeps,
  userId: string,
  chatwootMessageId: number,
  action: InteractiveAction,
  input: { values?: string[]; fields?: Record<string, string> },
  /**
   * Called (maybe twice) once the answer is valid, before it is stored (the Discord adapter acknowledges
   * the interaction there). A note returned before it is a refusal; after it, a late finding.
   */
  valid: () => Promise<void>,
): Promise<AnswerOutcome> {
  const open = await openPrompt(deps, chatwootMessageId, userId);
  if ("outcome" in open) return open.outcome;
  const prompt = open.prompt;
  const { content } = prompt;
  const answer = (
    a: Omit<
      InteractiveAnswer,
      "kind" | "discordUserId" | "conversationId" | "chatwootMessageId" | "receivedAt"
    >,
  ) => valid().then(() => queueAnswer(deps, prompt, a, action));

  if (
    content.type === "input_select" && (action.action === "option" || action.action === "select")
  ) {
    const index = action.action === "option" ? action.index : menuIndex(input.values?.[0]);
    const option = index === undefined ? undefined : content.options[index];
    if (!option) return NOT_AVAILABLE;
    return await answer({ submittedValues: [{ ...option }], replyText: option.title });
  }
  if (content.type === "cards" && action.action === "postback") {
    const chosen = content.cards[action.card]?.actions[action.index];
    if (chosen?.type !== "postback") return NOT_AVAILABLE;
    return await answer({
      submittedValues: [{ title: chosen.text, value: chosen.payload }],
      replyText: chosen.text,
    });
  }
  if (content.type === "input_email" && action.action === "email") {
    const email = (input.fields?.email ?? "").trim().toLowerCase();
    if (!isEmail(email)) {
      return { kind: "note", text: "That is not an email address. Press the button to try again." };
    }
    return await answer({ email, replyText: email });
  }
  if (content.type === "form" && action.action === "form") {
    const fields = formPart(content.fields, action.part);
    if (!fields.length) return NOT_AVAILABLE;
    const check = await checkFormPart(
      fields,
      input.fields ?? {},
      content.fields.length,
      deps.patterns,
    );
    if (!check.ok) return { kind: "note", text: `${check.problem} Press the button to try again.` };
    await valid();
    const saved = await deps.interactive.update(chatwootMessageId, (p) => ({
      ...p,
      formValues: { ...p.formValues, ...check.values },
      partsDone: [...new Set([...(p.partsDone ?? []), action.part])],
    }));
    if (!saved) return NOT_AVAILABLE;
    if ((saved.partsDone?.length ?? 0) < formPartCount(content.fields)) {
      return { kind: "updated", piece: interactivePieces(chatwootMessageId, content, saved)[0] };
    }
    return await answer({
      submittedValues: formSubmission(content.fields, saved.formValues ?? {}),
    });
  }
  return NOT_AVAILABLE;
}

async function queueAnswer(
  deps: AnswerIntakeDeps,
  prompt: InteractivePrompt,
  answer: Pick<InteractiveAnswer, "submittedValues" | "replyText" | "email">,
  action: InteractiveAction,
): Promise<AnswerOutcome> {
  const now = Date.now();
  const accepted = await deps.mailbox.append({
    dir: "in",
    userId: prompt.userId,
    items: [{
      seq: mailboxSeqAt("in", now),
      item: {
        kind: "interactive_answer",
        discordUserId: prompt.userId,
        conversationId: prompt.conversationId,
        chatwootMessageId: prompt.chatwootMessageId,
        ...answer,
        receivedAt: now,
      } satisfies InteractiveAnswer,
    }],
    dedupe: { kind: "interactive_answer", id: String(prompt.chatwootMessageId) },
  });
  const described = answer.email ??
    (prompt.content.type === "form" ? "sent" : describeAnswer(answer.submittedValues ?? []));
  const state = accepted
    ? await deps.interactive.update(prompt.chatwootMessageId, (p) => ({ ...p, answer: described }))
    : await deps.interactive.get(prompt.chatwootMessageId);
  if (!accepted) {
    return {
      kind: "note",
      text: `You already answered${state?.answer ? `: ${state.answer}` : "."}`,
    };
  }
  deps.log.info("interactive answer queued", {
    discordUserId: prompt.userId,
    chatwootMessageId: prompt.chatwootMessageId,
    type: prompt.content.type,
  });
  const shown = state ?? { ...prompt, answer: described };
  return {
    kind: "updated",
    piece: action.action === "postback" && prompt.content.type === "cards"
      ? pieceWithCard(prompt.chatwootMessageId, prompt.content, action.card, shown)
      : interactivePieces(prompt.chatwootMessageId, prompt.content, shown)[0],
  };
}

export interface AnswerDeliveryDeps {
  chatwoot: ChatwootPort;
  tickets: TicketStore;
  conversations: ConversationStore;
  inbox: InboxSettingsSource;
  log: Logger;
}

/** The contact's message carrying an answer: one per interactive message. */
function answerSourceId(chatwootMessageId: number): string {
  return `answer:${chatwootMessageId}`;
}

/** Inbound step: the answer reaches Chatwoot (each write once, also across retries). */
export async function deliverAnswer(
  deps: AnswerDeliveryDeps,
  item: InteractiveAnswer,
  attempt: {
    firstAttempt: boolean;
    progress: AnswerProgress;
    checkpoint(progress: AnswerProgress): Promise<void>;
  },
): Promise<void> {
  const log = deps.log.child({
    discordUserId: item.discordUserId,
    chatwootMessageId: item.chatwootMessageId,
  });
  const ticket = await deps.tickets.get(item.discordUserId);
  if (!ticket) {
    throw new Error(`no Chatwoot contact is known for Discord user ${item.discordUserId}`);
  }
  if (item.submittedValues && !attempt.progress.submitted) {
    const { inboxIdentifier } = await deps.inbox.get();
    if (inboxIdentifier) {
      await deps.chatwoot.submitInteractiveAnswer({
        inboxIdentifier,
        contactSourceId: ticket.sourceId,
        conversationId: item.conversationId,
        messageId: item.chatwootMessageId,
      }, item.submittedValues);
      await attempt.checkpoint({ submitted: true });
    } else {
      log.warn("answer not written on the message: the inbox has no identifier (API inbox?)");
    }
  }
  if (item.email) {
    try {
      await deps.chatwoot.setContactEmail(ticket.contactId, item.email);
    } catch (error) {
      if (!isServiceStatus(error, "chatwoot", 422)) throw error;
      // Another contact has it: contacts are not merged on a user's word; agents see the message.
      log.info("email not set on the contact: another contact has it");
    }
  }
  // A message in a resolved conversation would reopen it: the answer on the message is enough.
  const status = (await deps.conversations.get(item.conversationId))?.status;
  if (item.replyText && status !== "resolved") {
    const sourceId = answerSourceId(item.chatwootMessageId);
    const posted = !attempt.firstAttempt &&
      await findBySourceId(deps.chatwoot, item.conversationId, sourceId) !== undefined;
    if (!posted) {
      await deps.chatwoot.createIncomingMessage(item.conversationId, {
        content: item.replyText.slice(0, MAX_ANSWER_CHARS),
        sourceId,
      });
    }
  }
  log.info("interactive answer delivered");
}
