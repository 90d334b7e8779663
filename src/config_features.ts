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

const topicSchema = z.object({
  label: z.string().trim().min(1, "a topic needs a label").max(
    100,
    "label: at most 100 characters",
  ),
  description: z.string().trim().max(100, "description: at most 100 characters").optional(),
  emoji: z.string().trim().regex(
    EMOJI,
    'emoji: one emoji (e.g. "💳") or a custom emoji written <:name:id>',
  ).optional(),
  team: z.number().int().positive("team: a Chatwoot team id").optional(),
  labels: z.array(
    z.string().trim().min(1).max(255).regex(/^[^\s,]+$/, "labels: no spaces or commas"),
  ).max(20).optional(),
  priority: z.enum(["low", "medium", "high", "urgent"], {
    error: "priority: low, medium, high or urgent",
  }).optional(),
}).strict();

const ticketTopics = blankAsUnset(
  z.string().transform((raw, ctx): Topic[] => {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      ctx.addIssue({
        code: "custom",
        message: 'expected a JSON array of topics, e.g. [{"label":"Billing","team":2}]',
      });
      return z.NEVER;
    }
    const parsed = z.array(topicSchema).min(1).max(MAX_TOPICS, `at most ${MAX_TOPICS} topics`)
      .safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      ctx.addIssue({
        code: "custom",
        message: `${issue.path.length ? `topic ${issue.path.join(".")}: ` : ""}${issue.message}`,
      });
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
    positiveInt("minutes a new ticket waits for its topic, e.g. 10").optional(),
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
    z.string().trim().regex(/^\d+(\.\d+)?$/, "expected a number of hours, e.g. 48").transform(
      Number,
    )
      .refine((n) => n > 0, "expected a number of hours, e.g. 48").optional(),
  ),
};
