/**
 * The mailboxes' handlers: a stored item is read back as an item of its
 * mailbox's kinds (items.ts), run by its use case, and what it leaves behind
 * becomes the records written with its removal (store/completions.ts).
 */
import {
  type Attempt,
  type Completion,
  deliver,
  type Deliverers,
  type Direction,
  readItem,
  readProgress,
} from "../bridge/items.ts";
import type { ItemHandler } from "../jobs/mailbox.ts";
import { completionRecords } from "../store/completions.ts";

/** What completions need besides the item (store/completions.ts), less the time of the write. */
type HandlerOptions = Omit<Parameters<typeof completionRecords>[2], "now">;

export function mailboxHandlers(
  deliverers: { [D in Direction]: Deliverers<D> },
  options: HandlerOptions,
): Record<Direction, ItemHandler> {
  return {
    in: handler(options, (stored) => {
      const item = readItem("in", stored);
      return item && {
        kind: item.kind,
        run: (attempt) => deliver(deliverers.in, item.kind, item, attempt),
      };
    }),
    out: handler(options, (stored) => {
      const item = readItem("out", stored);
      return item && {
        kind: item.kind,
        run: (attempt) => deliver(deliverers.out, item.kind, item, attempt),
      };
    }),
  };
}

function handler<D extends Direction>(
  options: HandlerOptions,
  /** The stored item's use case, or undefined for a kind this mailbox does not hold. */
  useCaseOf: (
    stored: unknown,
  ) => { kind: string; run(attempt: Attempt): Promise<Completion<D> | void> } | undefined,
): ItemHandler {
  return async (userId, entry, checkpoint, context) => {
    const useCase = useCaseOf(entry.item);
    // An item of a kind this version does not know: a failure of the item (bounded, then a
    // dead letter an operator can look at), never a mailbox blocked for good.
    if (!useCase) throw new Error("unknown mailbox item kind");
    const completion = await useCase.run({
      ...context,
      progress: readProgress(useCase.kind, entry.progress),
      checkpoint: (progress) => checkpoint({ ...progress }),
    });
    if (!completion) return [];
    const { records, followUps } = completionRecords(userId, completion, {
      ...options,
      now: Date.now(),
    });
    return [...records, ...followUps.map((followUp) => ({ followUp }))];
  };
}
