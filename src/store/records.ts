/** A KV write that goes into someone else's atomic commit (e.g. a mailbox item's completion). */
export interface KvRecord {
  key: Deno.KvKey;
  value: unknown;
  expireIn?: number;
}

/**
 * How long what a user may still answer is kept (an interactive message, a
 * CSAT survey, a check-in wait): past this, an answer finds nothing to answer.
 */
export const ANSWERABLE_FOR_MS = 30 * 24 * 3600_000;
