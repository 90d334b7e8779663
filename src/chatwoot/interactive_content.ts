/**
 * Reads an interactive message's `content_attributes` (Chatwoot's
 * `ContentAttributeValidator` checks key names only, never values or counts)
 * into the bridge's bounded model: strings are cut to what Discord can show,
 * lists to what one or two Discord messages can carry, links to http(s). What
 * cannot be shown natively is left out here; a message left with nothing to
 * show is relayed as its text with a line saying so (webhook_routing.ts).
 */
import { z } from "zod";
import type {
  Article,
  Card,
  CardAction,
  FormField,
  FormFieldType,
  InteractiveContent,
} from "../bridge/interactive.ts";

/** Discord's string select takes 25 options; buttons 5 × 5. */
const MAX_OPTIONS = 25;
/** Cards and articles become embeds: 10 per message, 5 rows of buttons per message. */
const MAX_CARDS = 10;
const MAX_ARTICLES = 10;
/** Five modals of five fields. */
const MAX_FORM_FIELDS = 25;
/** A select field is typed into a text box and checked: more choices than a menu holds are fine. */
const MAX_FIELD_OPTIONS = 100;
/**
 * An interactive message is stored with its reply (KV: 64 KiB per value, the
 * text itself up to 48 KB) and with its prompt: its JSON stays within this.
 */
const MAX_INTERACTIVE_BYTES = 12_000;

/** Any value (absent included) as a string of at most `max` characters: "" when not text. */
const text = (max: number) =>
  z.unknown().optional().transform((v) =>
    typeof v === "string" ? v.slice(0, max) : typeof v === "number" ? String(v) : ""
  );

/** The entries of a list that parse; a bad one is left out alone, never the whole list. */
const eachOf = <T extends z.ZodTypeAny>(entry: T, max: number) =>
  z.unknown().optional().transform((list) =>
    (Array.isArray(list) ? list.slice(0, 1000) : []).map((i) => entry.safeParse(i))
      .filter((r) => r.success).map((r) => r.data as z.infer<T>).slice(0, max)
  );

const itemsOf = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ items: eachOf(item, 1000) }).transform(({ items }) => items);

/** Only http(s) links reach Discord (a link button with any other scheme is refused). */
function webLink(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 512) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

const option = z.object({ title: text(100), value: text(500) })
  .transform((o) => ({ title: o.title || o.value.slice(0, 100), value: o.value || o.title }))
  .refine((o) => o.title !== "");

const action = z.object({
  type: z.string(),
  text: text(80),
  uri: z.unknown().optional(),
  payload: text(500),
})
  .transform((a): CardAction | undefined => {
    const label = a.text || (a.type === "link" ? "Open" : "Choose");
    if (a.type === "link") {
      const uri = webLink(a.uri);
      return uri ? { type: "link", text: label, uri } : undefined;
    }
    if (a.type === "postback") {
      return { type: "postback", text: label, payload: a.payload || label };
    }
    return undefined;
  });

const card = z.object({
  title: text(256),
  description: text(2000),
  media_url: z.unknown().optional(),
  actions: eachOf(action, 50),
}).transform((c): Card => ({
  title: c.title,
  description: c.description,
  ...(webLink(c.media_url) ? { mediaUrl: webLink(c.media_url) } : {}),
  actions: c.actions.filter((a): a is CardAction => a !== undefined).slice(0, 5),
}));

const FIELD_TYPES: Record<string, FormFieldType> = {
  text: "text",
  email: "email",
  text_area: "text_area",
  textarea: "text_area",
  select: "select",
};

const field = z.object({
  name: text(100),
  label: text(200),
  type: z.string(),
  placeholder: text(100),
  default: text(4000),
  pattern: text(500),
  pattern_error: text(200),
  options: eachOf(z.object({ label: text(100), value: text(100) }), MAX_FIELD_OPTIONS),
}).transform((f): FormField | undefined => {
  const type = FIELD_TYPES[f.type];
  if (!type || !f.name) return undefined;
  return {
    name: f.name,
    label: f.label || f.name,
    type,
    ...(f.placeholder ? { placeholder: f.placeholder } : {}),
    ...(f.default ? { default: f.default } : {}),
    ...(f.pattern ? { pattern: f.pattern } : {}),
    ...(f.pattern_error ? { patternError: f.pattern_error } : {}),
    ...(type === "select"
      ? {
        options: f.options.map((o) => ({ label: o.label || o.value, value: o.value || o.label })),
      }
      : {}),
  };
});

const article = z.object({
  title: text(256),
  description: text(2000),
  link: z.unknown().optional(),
})
  .transform((a): Article | undefined => {
    const link = webLink(a.link);
    return link && a.title ? { title: a.title, description: a.description, link } : undefined;
  });

/**
 * The interactive part of a message of `contentType`, or undefined when the
 * type is not interactive or nothing usable is left (the message is then
 * relayed as its text).
 */
export function readInteractiveContent(
  contentType: string,
  attributes: unknown,
): InteractiveContent | undefined {
  const content = readContent(contentType, attributes);
  return content && withinBudget(content);
}

/** What may be shortened to fit: shown text only, never what is sent back or links. */
const SHORTENED = new Set([
  "title",
  "description",
  "label",
  "placeholder",
  "default",
  "patternError",
]);

/**
 * The content within MAX_INTERACTIVE_BYTES: long shown texts cut shorter and
 * shorter; undefined when even that does not fit (the message is then relayed
 * as its text, with a line saying so).
 */
function withinBudget(content: InteractiveContent): InteractiveContent | undefined {
  const size = (c: unknown) => new TextEncoder().encode(JSON.stringify(c)).byteLength;
  if (size(content) <= MAX_INTERACTIVE_BYTES) return content;
  for (const max of [500, 200, 80, 40]) {
    const cut = JSON.parse(
      JSON.stringify(content),
      (key, value) =>
        SHORTENED.has(key) && typeof value === "string" && value.length > max
          ? `${value.slice(0, max - 1)}…`
          : value,
    );
    if (size(cut) <= MAX_INTERACTIVE_BYTES) return cut;
  }
  return undefined;
}

function readContent(contentType: string, attributes: unknown): InteractiveContent | undefined {
  switch (contentType) {
    case "input_email":
      return { type: "input_email" };
    case "input_select": {
      const options = itemsOf(option).safeParse(attributes);
      if (!options.success || !options.data.length) return undefined;
      return { type: "input_select", options: options.data.slice(0, MAX_OPTIONS) };
    }
    case "cards": {
      const cards = itemsOf(card).safeParse(attributes);
      if (!cards.success || !cards.data.length) return undefined;
      return { type: "cards", cards: cards.data.slice(0, MAX_CARDS) };
    }
    case "form": {
      const fields = itemsOf(field).safeParse(attributes);
      const list = fields.success ? fields.data.filter((f): f is FormField => f !== undefined) : [];
      if (!list.length || list.length > MAX_FORM_FIELDS) return undefined;
      const buttonLabel = z.object({ button_label: text(60) }).safeParse(attributes);
      return {
        type: "form",
        fields: list,
        ...(buttonLabel.success && buttonLabel.data.button_label
          ? { buttonLabel: buttonLabel.data.button_label }
          : {}),
      };
    }
    case "article": {
      const articles = itemsOf(article).safeParse(attributes);
      const list = articles.success
        ? articles.data.filter((a): a is Article => a !== undefined)
        : [];
      return list.length ? { type: "article", articles: list.slice(0, MAX_ARTICLES) } : undefined;
    }
  }
  return undefined;
}
