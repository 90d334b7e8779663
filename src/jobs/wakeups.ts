/**
 * How a mailbox is woken. The mailbox itself lives in KV; a wake-up only says
 * "look at this mailbox". Two implementations behind one interface:
 *
 * - `queueWakeups`: Deno KV queues carry the delayed wake-ups (retries, a
 *   lease running out), which survive a restart.
 * - `inlineWakeups`: for Deno Deploy and KV Connect, which have no queues:
 *   timers, with the minute sweep as the safety net for what a timer loses.
 *
 * An append is drained at once by the process that made it. It carries no
 * queued wake-up: measured, that queue message cost two of the four KV writes
 * of a DM and halved throughput. A process that dies between the append and
 * the drain leaves the mailbox marked pending; the start-up sweep (or another
 * instance's minute sweep) wakes it.
 */
import type { Direction } from "../store/keys.ts";

/**
 * KV queues exist only on a local (SQLite) database outside Deno Deploy:
 * KV Connect rejects `enqueue`, and Deploy does not run queue listeners.
 * Whether this runs on Deploy is the caller's to say (`config.onDeploy`).
 */
export function kvHasQueues(kvPath: string, where: { deploy: boolean }): boolean {
  return !where.deploy && !/^https?:\/\//.test(kvPath);
}

export interface WakeTarget {
  dir: Direction;
  userId: string;
}

export interface Wakeups {
  readonly mode: "queue" | "inline";
  /** Wakes the mailbox again after `delayMs`. */
  later(target: WakeTarget, delayMs: number): Promise<void>;
  /** Starts delivering wake-ups to `handler`. */
  listen(handler: (target: WakeTarget) => void): void;
  close(): void;
}

function isWakeTarget(value: unknown): value is WakeTarget {
  return typeof value === "object" && value !== null && "dir" in value && "userId" in value &&
    (value.dir === "in" || value.dir === "out") && typeof value.userId === "string";
}

export function queueWakeups(kv: Deno.Kv): Wakeups {
  return {
    mode: "queue",
    async later(target, delayMs) {
      await kv.enqueue({ dir: target.dir, userId: target.userId }, {
        delay: Math.max(0, Math.round(delayMs)),
      });
    },
    listen(handler) {
      // The handler must return at once: KV re-delivers a handler that runs past ~5 s.
      kv.listenQueue((message: unknown) => {
        if (isWakeTarget(message)) handler(message);
      }).catch(() => {/* resolves or rejects when KV closes */});
    },
    close() {},
  };
}

export function inlineWakeups(): Wakeups {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let handler: ((target: WakeTarget) => void) | undefined;
  return {
    mode: "inline",
    later(target, delayMs) {
      const id = setTimeout(() => {
        timers.delete(id);
        handler?.(target);
      }, Math.max(0, delayMs));
      Deno.unrefTimer(id);
      timers.add(id);
      return Promise.resolve();
    },
    listen(h) {
      handler = h;
    },
    close() {
      for (const id of timers) clearTimeout(id);
      timers.clear();
    },
  };
}
