/**
 * The variables of the optional channel features (each off unless set):
 * topic intake, the closed-DMs fallback thread, transcripts, check-ins.
 *
 * TICKET_TOPICS: the topics a user picks from before a new ticket opens.
 * A JSON array, e.g.
 * `[{"label":"Billing","description":"Invoices and refunds","emoji":"💳","team":2,"labels":["billing"],"priority":"high"}]`.
 * Blank: no topic menu. Each topic: `label` (required, ≤ 100), `description`
 * (≤ 100), `emoji` (one emoji or a custom `<:name:id>`), `team` (a Chatwoot
 * team id), `labels` (Chatwoot labels), `priority` (low, medium, high, urgent).
 */
import { z } from "zod";
import { blankAsUnset, booleanFlag, positiveInt } from "./config_fields.ts";
import type { Topic } from "./bridge/prompts.ts";

/**
 * What Discord takes as a select option's emoji: one Unicode emoji (with its
 * modifiers, joiners and keycaps) or a custom one, `<:name:id>` / `<a:name:id>`.
 */
const EMOJI =
  /^(?:<a?:\w{2,32}:\d{17,20}>|(?:[#*0-9]\uFE0F?\u20E3|\p{Regional_Indicator}{2}|\p{Extended_Pictographic}[\uFE0F\u{1F3FB}-\u{1F3FF}]*(?:\u200D\p{Extended_Pictographic}[\uFE0F\u{1F3FB}-\u{1F3FF}]*)*))$/u;

/** One Discord select menu holds 25 options. */
const MAX_TOPICS = 25;

const NUDGE_EXPECTED =
  "expected a number of hours above 0, e.g. 48 (leave it blank for no check-in)";

const TOPIC_KEYS = "label, description, emoji, team, labels, priority";

const topicSchema = z.object({
  label: z.string({ error: "label: text is required" }).trim()
    .min(1, "label: text is required").max(100, "label: at most 100 characters"),
  description: z.string({ error: "description: text expected" }).trim()
    .max(100, "description: at most 100 characters").optional(),
  emoji: z.string({ error: "emoji: text expected" }).trim().regex(
    EMOJI,
    'emoji: one emoji (e.g. "💳") or a custom emoji written <:name:id>',
  ).optional(),
  team: z.number({ error: "team: a Chatwoot team id (a whole number, not in quotes)" }).int(
    "team: a Chatwoot team id (a whole number)",
  ).positive("team: a Chatwoot team id (a whole number)").optional(),
  labels: z.array(
    z.string({ error: "labels: each label is text" }).trim().min(1, "labels: an empty label")
      .max(255, "labels: at most 255 characters each")
      .regex(/^[^\s,]+$/, "labels: no spaces or commas in a label"),
    { error: 'labels: a list of Chatwoot labels, e.g. ["billing"]' },
  ).max(20, "labels: at most 20").optional(),
  priority: z.enum(["low", "medium", "high", "urgent"], {
    error: "priority: low, medium, high or urgent",
  }).optional(),
}).strict();

/** A zod issue of one topic, said for an operator: which topic (from 1, with its label), what. */
function topicProblem(issue: z.core.$ZodIssue, json: unknown): string {
  const [index] = issue.path;
  if (typeof index !== "number") return issue.message;
  const label = (Array.isArray(json) ? json[index] : undefined)?.label;
  const which = `topic ${index + 1}${typeof label === "string" && label ? ` ("${label}")` : ""}`;
  const message = issue.code === "unrecognized_keys"
    ? `unknown ${issue.keys.length > 1 ? "keys" : "key"} ${
      issue.keys.map((k) => `"${k}"`).join(", ")
    } (allowed: ${TOPIC_KEYS})`
    : issue.message;
  return `${which}: ${message}`;
}

const ticketTopics = blankAsUnset(
  z.string().transform((raw, ctx): Topic[] => {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      ctx.addIssue({
        code: "custom",
        message: 'expected a JSON array of topics, e.g. [{"label":"Billing","team":2}] ' +
          "(in .env, wrap it in single quotes)",
      });
      return z.NEVER;
    }
    if (!Array.isArray(json)) {
      ctx.addIssue({
        code: "custom",
        message: 'expected a JSON array of topics ([…]), e.g. [{"label":"Billing","team":2}]',
      });
      return z.NEVER;
    }
    const parsed = z.array(topicSchema).max(MAX_TOPICS, `at most ${MAX_TOPICS} topics`)
      .safeParse(json);
    if (!parsed.success) {
      // Every problem at once, as for every other variable.
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ code: "custom", message: topicProblem(issue, json) });
      }
      return z.NEVER;
    }
    const labels = new Set<string>();
    for (const t of parsed.data) {
      if (labels.has(t.label)) {
        ctx.addIssue({ code: "custom", message: `two topics are labelled "${t.label}"` });
        return z.NEVER;
      }
      labels.add(t.label);
    }
    return parsed.data;
  }).optional(),
).transform((v) => v ?? []);

/** Spread into the configuration schema (config.ts). */
export const FEATURE_FIELDS = {
  TICKET_TOPICS: ticketTopics,
  TOPIC_TIMEOUT_MINUTES: blankAsUnset(
    positiveInt("minutes a new ticket waits for its topic, e.g. 10").refine(
      (n) => n <= 1440,
      "at most 1440 (a day): a new ticket must not wait longer for its topic",
    ).optional(),
  ).transform((v) => v ?? 10),
  FALLBACK_CHANNEL_ID: blankAsUnset(
    z.string().trim().regex(
      /^\d{17,20}$/,
      "expected a Discord channel id (a number), e.g. 123456789012345678",
    )
      .optional(),
  ),
  TRANSCRIPT_ON_RESOLVE: booleanFlag(false),
  NUDGE_AFTER_HOURS: blankAsUnset(
    z.string().trim().regex(/^\d+(\.\d+)?$/, NUDGE_EXPECTED).transform(Number)
      .refine((n) => n > 0, NUDGE_EXPECTED).optional(),
  ),
};
