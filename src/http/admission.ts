/**
 * Slots for what a client holds while it is served (an open connection, a
 * body being read), handed out so that neither one address nor a crowd of
 * unproven ones can take them all:
 *
 * - `shared` slots are open to every address;
 * - `reserved` slots, on top, only to proven addresses (proven_senders.ts):
 *   while strangers hold every shared slot, Chatwoot still gets in;
 * - an unproven address holds at most `perUnprovenAddress` slots at once.
 *
 * With `takeOrWait`, a request waits its turn instead of being refused when
 * what stops it is its own address's share (an unproven address sending a
 * burst: Chatwoot right after a restart, say) or, for a proven address, a
 * full server: Chatwoot sends its webhooks in bursts from one address. An
 * unproven address finding every shared slot taken is refused at once.
 * Freed slots go to waiters first come, first served.
 */
import { addressKey, type ProvenSenders } from "./proven_senders.ts";

export interface SlotLimits {
  /** Slots any address may take. */
  shared: number;
  /** Slots, on top of `shared`, only proven addresses may take. */
  reserved: number;
  /** The most slots one unproven address holds at once. */
  perUnprovenAddress: number;
}

export interface Slot {
  /** Gives the slot back (once; later calls do nothing). */
  release(): void;
}

export interface Admission {
  /** A slot for `address` now, or undefined when it may not have one. */
  take(address: string): Slot | undefined;
  /**
   * As `take`, but waits up to `maxWaitMs` (or until `signal` aborts) when the
   * address is held back by its own share, or is proven and the server is full.
   */
  takeOrWait(address: string, maxWaitMs: number, signal?: AbortSignal): Promise<Slot | undefined>;
  /** Slots held right now. */
  readonly inUse: number;
}

interface Waiter {
  address: string;
  give(slot: Slot): void;
}

export function createAdmission(limits: SlotLimits, senders: ProvenSenders): Admission {
  let shared = 0;
  let reserved = 0;
  /** Slots held, by address. */
  const held = new Map<string, number>();
  const waiting: Waiter[] = [];

  const grant = (address: string, pool: "shared" | "reserved"): Slot => {
    held.set(address, (held.get(address) ?? 0) + 1);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        const count = held.get(address)! - 1;
        if (count > 0) held.set(address, count);
        else held.delete(address);
        if (pool === "shared") shared--;
        else reserved--;
        handOut();
      },
    };
  };

  /** Whether `address` is held back by its own share (unproven, at its cap). */
  const atOwnCap = (address: string) =>
    !senders.isProven(address) && (held.get(address) ?? 0) >= limits.perUnprovenAddress;

  const take = (address: string): Slot | undefined => {
    if (atOwnCap(address)) return undefined;
    if (shared < limits.shared) {
      shared++;
      return grant(address, "shared");
    }
    if (senders.isProven(address) && reserved < limits.reserved) {
      reserved++;
      return grant(address, "reserved");
    }
    return undefined;
  };

  /** Gives freed capacity to the waiters that may now have it, in arrival order. */
  const handOut = () => {
    for (let i = 0; i < waiting.length;) {
      const slot = take(waiting[i].address);
      if (slot) waiting.splice(i, 1)[0].give(slot);
      else i++;
    }
  };

  return {
    take: (address) => take(addressKey(address)),
    takeOrWait(address, maxWaitMs, signal) {
      const key = addressKey(address);
      const slot = take(key);
      const mayWait = atOwnCap(key) || senders.isProven(key);
      if (slot || !mayWait || maxWaitMs <= 0 || signal?.aborted) return Promise.resolve(slot);
      return new Promise((resolve) => {
        const leave = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", leave);
          const at = waiting.indexOf(waiter);
          if (at >= 0) waiting.splice(at, 1);
          resolve(undefined);
        };
        const waiter: Waiter = {
          address: key,
          give(given) {
            clearTimeout(timer);
            signal?.removeEventListener("abort", leave);
            resolve(given);
          },
        };
        const timer = setTimeout(leave, maxWaitMs);
        signal?.addEventListener("abort", leave, { once: true });
        waiting.push(waiter);
      });
    },
    get inUse() {
      return shared + reserved;
    },
  };
}
