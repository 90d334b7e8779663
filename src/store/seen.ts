/**
 * Dedupe markers ("this id was seen"): the one writer, with one expiry table.
 *
 * A marker must outlive every way the same thing can come again: a webhook
 * replayed, a gateway event delivered twice, the reconciliation reading back
 * the last RECONCILE_WINDOW_HOURS of agent messages, the catch-up reading DMs
 * sent while the gateway was away. So message-like kinds are kept a week, or
 * the reconciliation window and a day when that is longer.
 */
import type { SeenKind } from "../bridge/ports.ts";
import { keys } from "./keys.ts";
import { ANSWERABLE_FOR_MS } from "./records.ts";

const DAY_MS = 24 * 3600_000;

export interface SeenMarkers {
  /** True the first time (kind, id) is seen: the marker is written. */
  firstSeen(kind: SeenKind, id: string): Promise<boolean>;
  /** Adds "first time only" for (kind, id) to an atomic operation (its commit fails otherwise). */
  guard(op: Deno.AtomicOperation, kind: SeenKind, id: string): Deno.AtomicOperation;
}

export function createSeenMarkers(
  kv: Deno.Kv,
  options: { reconcileWindowMs: number; now?: () => number },
): SeenMarkers {
  const messageTtl = Math.max(7 * DAY_MS, options.reconcileWindowMs + DAY_MS);
  const ttl: Record<SeenKind, number> = {
    dm: messageTtl,
    dm_edit: messageTtl,
    dm_delete: messageTtl,
    message_created: messageTtl,
    message_deleted: messageTtl,
    notice: messageTtl,
    csat: messageTtl,
    delivery: messageTtl,
    // Discord redelivers an interaction within seconds; its token lives 15 minutes.
    interaction: DAY_MS,
    // An interactive message can be answered while its record lives (store/interactive.ts).
    interactive_answer: ANSWERABLE_FOR_MS,
  };
  const now = options.now ?? Date.now;
  const guard = (op: Deno.AtomicOperation, kind: SeenKind, id: string) => {
    const key = keys.seen(kind, id);
    return op.check({ key, versionstamp: null }).set(key, now(), { expireIn: ttl[kind] });
  };
  return {
    guard,
    async firstSeen(kind, id) {
      return (await guard(kv.atomic(), kind, id).commit()).ok;
    },
  };
}
