/**
 * Chatwoot's interactive messages (options, cards, forms, articles, an email
 * request), as the bridge carries them: what an agent or a bot sent, how the
 * user's answer is named in Discord's custom ids, and how that answer is
 * checked and written back the way Chatwoot's own web widget does.
 *
 * The content is read from the webhook by the Chatwoot adapter
 * (src/chatwoot/interactive_content.ts), bounded there; interactive_view.ts
 * turns it into Discord components.
 */

export interface SelectOption {
  title: string;
  value: string;
}

export type CardAction =
  | { type: "link"; text: string; uri: string }
  | { type: "postback"; text: string; payload: string };

export interface Card {
  title: string;
  description: string;
  mediaUrl?: string;
  actions: CardAction[];
}

/** The field types Chatwoot's widget renders (any other can never be filled in there either). */
export type FormFieldType = "text" | "email" | "text_area" | "select";

export interface FormField {
  name: string;
  label: string;
  type: FormFieldType;
  placeholder?: string;
  default?: string;
  /** A JavaScript regular expression the value must match (text fields, like the widget). */
  pattern?: string;
  patternError?: string;
  /** select fields: the allowed values. */
  options?: { label: string; value: string }[];
}

export interface Article {
  title: string;
  description: string;
  link: string;
}

export type InteractiveContent =
  | { type: "input_select"; options: SelectOption[] }
  | { type: "cards"; cards: Card[] }
  | { type: "form"; fields: FormField[]; buttonLabel?: string }
  | { type: "article"; articles: Article[] }
  | { type: "input_email" };

/** A value written back into the message's `submitted_values`, as the widget writes it. */
export interface SubmittedValue {
  title?: string;
  name?: string;
  value: string;
}

/** Discord modals hold at most 5 inputs: a longer form is filled in as several parts. */
const FIELDS_PER_MODAL = 5;

/** Custom ids of interactive components: `ia:<chatwoot message id>:<what>`. */
const INTERACTIVE_PREFIX = "ia:";

export type InteractiveAction =
  /** The n-th option's button. */
  | { action: "option"; index: number }
  /** The options' select menu (the chosen value is the option's index). */
  | { action: "select" }
  /** A card's postback button. */
  | { action: "postback"; card: number; index: number }
  /** A form part's "Fill in" button, and its modal. */
  | { action: "form"; part: number }
  /** The email request's button, and its modal. */
  | { action: "email" };

export function interactiveCustomId(chatwootMessageId: number, a: InteractiveAction): string {
  const base = `${INTERACTIVE_PREFIX}${chatwootMessageId}:`;
  switch (a.action) {
    case "option":
      return `${base}o:${a.index}`;
    case "select":
      return `${base}s`;
    case "postback":
      return `${base}p:${a.card}:${a.index}`;
    case "form":
      return `${base}f:${a.part}`;
    case "email":
      return `${base}e`;
  }
}

/** Reads a custom id this module wrote; undefined for anything else (it came from Discord's user). */
export function readInteractiveCustomId(
  customId: string,
): { chatwootMessageId: number; action: InteractiveAction } | undefined {
  const m = /^ia:(\d{1,15}):(?:o:(\d{1,2})|(s)|p:(\d{1,2}):(\d{1,2})|f:(\d{1,2})|(e))$/.exec(
    customId,
  );
  if (!m) return undefined;
  const chatwootMessageId = Number(m[1]);
  if (m[2] !== undefined) return { chatwootMessageId, action: { action: "option", index: +m[2] } };
  if (m[3]) return { chatwootMessageId, action: { action: "select" } };
  if (m[4] !== undefined) {
    return { chatwootMessageId, action: { action: "postback", card: +m[4], index: +m[5] } };
  }
  if (m[6] !== undefined) return { chatwootMessageId, action: { action: "form", part: +m[6] } };
  return { chatwootMessageId, action: { action: "email" } };
}

/** The fields of form part `part` (0-based). */
export function formPart(fields: FormField[], part: number): FormField[] {
  return fields.slice(part * FIELDS_PER_MODAL, (part + 1) * FIELDS_PER_MODAL);
}

export function formPartCount(fields: FormField[]): number {
  return Math.max(1, Math.ceil(fields.length / FIELDS_PER_MODAL));
}

/** Discord's limit on a text input's value, and the longest answer kept. */
export const MAX_ANSWER_CHARS = 4000;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isEmail(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value);
}

export type FormCheck =
  | { ok: true; values: Record<string, string> }
  | { ok: false; problem: string };

/**
 * Whether `value` matches a form field's `pattern` as a whole (like the HTML
 * `pattern` attribute the widget uses). The pattern is Chatwoot's, not ours:
 * the app runs it where a catastrophic one cannot stall the bridge
 * (app/pattern_sandbox.ts).
 */
export type PatternCheck = (pattern: string, value: string) => Promise<boolean>;

/**
 * All the answers of a form together are kept (and sent) within this many
 * bytes: KV holds 64 KiB per value, and the answer travels in one item.
 */
const MAX_FORM_ANSWER_BYTES = 16_000;

/** The longest answer a field of a form with `fieldCount` fields takes (Discord: ≤ 4000). */
export function answerLimit(fieldCount: number): number {
  // Four bytes a character at worst: the whole form stays within MAX_FORM_ANSWER_BYTES.
  return Math.min(
    MAX_ANSWER_CHARS,
    Math.floor(MAX_FORM_ANSWER_BYTES / 4 / Math.max(1, fieldCount)),
  );
}

/**
 * Checks one part of a form as Chatwoot's widget does: every field filled in,
 * an email field holds an address, a text field matches its pattern, a select
 * field names one of its options (by label or value; the value is kept).
 * `fieldCount` is the whole form's, which bounds each answer's length.
 */
export async function checkFormPart(
  fields: FormField[],
  submitted: Record<string, string>,
  fieldCount: number,
  patternMatches: PatternCheck,
): Promise<FormCheck> {
  const values: Record<string, string> = Object.create(null);
  for (const [i, field] of fields.entries()) {
    const raw = Object.hasOwn(submitted, fieldInputId(i)) ? submitted[fieldInputId(i)] : "";
    const value = (typeof raw === "string" ? raw : "").trim();
    if (!value) return { ok: false, problem: `Please fill in “${field.label}”.` };
    if (value.length > answerLimit(fieldCount)) {
      return {
        ok: false,
        problem: `“${field.label}” is too long (at most ${answerLimit(fieldCount)} characters).`,
      };
    }
    if (field.type === "email" && !isEmail(value)) {
      return { ok: false, problem: `“${field.label}” must be an email address.` };
    }
    if (field.type === "text" && field.pattern && !(await patternMatches(field.pattern, value))) {
      return {
        ok: false,
        problem: field.patternError || `“${field.label}” is not in the expected form.`,
      };
    }
    if (field.type === "select") {
      const wanted = value.toLowerCase();
      const option = field.options?.find((o) =>
        o.value.toLowerCase() === wanted || o.label.toLowerCase() === wanted
      );
      if (!option) {
        return {
          ok: false,
          problem: `“${field.label}” must be one of: ${
            (field.options ?? []).map((o) => o.label).join(", ").slice(0, 1500)
          }.`,
        };
      }
      values[field.name] = option.value;
      continue;
    }
    values[field.name] = value;
  }
  return { ok: true, values };
}

/** The modal input of the part's i-th field. */
export function fieldInputId(i: number): string {
  return `f${i}`;
}

/** A value kept under a name Chatwoot chose (never one inherited from Object.prototype). */
export function ownValue(record: Record<string, string> | undefined, name: string) {
  return record && Object.hasOwn(record, name) ? record[name] : undefined;
}

/** A form's `submitted_values`, in the form's own field order, as the widget sends them. */
export function formSubmission(
  fields: FormField[],
  values: Record<string, string>,
): SubmittedValue[] {
  return fields.map((f) => ({ name: f.name, value: ownValue(values, f.name) ?? "" }));
}

/** A select menu's value is the option's index, as the bridge wrote it (nothing else counts). */
export function menuIndex(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,2}$/.test(value) ? Number(value) : undefined;
}
