/**
 * The global budget for attachment bytes held in memory (downloaded and not
 * yet uploaded), shared by every mailbox of this process.
 *
 * Holders are served first come, first served: a large request at the head
 * of the queue is not overtaken by smaller ones behind it, so nobody starves.
 * A wait is asynchronous (no polling), ends when its signal aborts (a drain
 * that lost its mailbox), and is bounded by `maxWaitMs`, after which the
 * caller is told the memory is busy (undefined) and sends links instead.
 */
import type { AttachmentMemory } from "../bridge/ports.ts";

interface Waiter {
  bytes: number;
  grant: (release: () => void) => void;
  cancel: (reason?: unknown) => void;
}

export interface MemoryBudget extends AttachmentMemory {
  /** Bytes held right now. */
  readonly held: number;
  /** The most bytes ever held at once (for tests and metrics). */
  readonly highWater: number;
  /** Holders waiting their turn right now. */
  readonly waiting: number;
  /** How many holds had to wait. */
  readonly waits: number;
}

export function createMemoryBudget(
  capacity: number,
  options: { maxWaitMs?: number } = {},
): MemoryBudget {
  const maxWaitMs = options.maxWaitMs ?? 120_000;
  const queue: Waiter[] = [];
  let held = 0;
  let highWater = 0;
  let waits = 0;

  const take = (bytes: number) => {
    held += bytes;
    highWater = Math.max(highWater, held);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held -= bytes;
      serve();
    };
  };

  /** Grants the queue's head while it fits, in order. */
  const serve = () => {
    for (let next = queue[0]; next && held + next.bytes <= capacity; next = queue[0]) {
      queue.shift();
      next.grant(take(next.bytes));
    }
  };

  return {
    capacity,
    get held() {
      return held;
    },
    get highWater() {
      return highWater;
    },
    get waiting() {
      return queue.length;
    },
    get waits() {
      return waits;
    },
    hold(bytes, signal) {
      if (!(bytes >= 0) || bytes > capacity) {
        return Promise.reject(
          new RangeError(`cannot hold ${bytes} bytes in a budget of ${capacity}`),
        );
      }
      signal?.throwIfAborted();
      if (queue.length === 0 && held + bytes <= capacity) return Promise.resolve(take(bytes));
      waits++;
      const { promise, resolve, reject } = Promise.withResolvers<(() => void) | undefined>();
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        bytes,
        grant: (release) => {
          leave();
          resolve(release);
        },
        cancel: (reason) => {
          leave();
          queue.splice(queue.indexOf(waiter), 1);
          // The head may have left: whoever is behind it may fit now.
          serve();
          if (reason === undefined) resolve(undefined);
          else reject(reason);
        },
      };
      const onAbort = () => waiter.cancel(signal?.reason);
      const timer = setTimeout(() => waiter.cancel(), maxWaitMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
      return promise;
    },
  };
}
