/**
 * Runs a form's `pattern` (written in Chatwoot, so not ours to trust) against
 * a user's answer in a worker, never on the bridge's own event loop: a
 * catastrophic pattern (`^([a-z]+ ?)+$` on "aaaa…!") would otherwise stall
 * the gateway, the HTTP server and every mailbox. A check that takes longer
 * than `timeoutMs` ends the worker (a fresh one serves the next check) and
 * passes: Chatwoot stores the answer all the same, as its API would.
 *
 * Checks run one at a time; at most `maxWaiting` wait, further ones pass
 * unchecked (an attacker submitting forms in a loop costs one worker, never
 * the bridge). The defaults keep a form's worst wait (15 × 100 ms) within
 * Discord's 3 seconds to acknowledge its submission.
 */
import type { PatternCheck } from "../bridge/interactive.ts";

const WORKER_SOURCE = `
self.onmessage = (event) => {
  const { id, pattern, value } = event.data;
  let matches = true;
  try {
    matches = new RegExp("^(?:" + pattern + ")$", "v").test(value);
  } catch {
    try {
      matches = new RegExp("^(?:" + pattern + ")$").test(value);
    } catch {
      matches = true;
    }
  }
  self.postMessage({ id, matches });
};
`;

export function createPatternSandbox(
  options: { timeoutMs?: number; maxWaiting?: number } = {},
): PatternCheck & { close(): void } {
  const timeoutMs = options.timeoutMs ?? 100;
  const maxWaiting = options.maxWaiting ?? 15;
  const source = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
  let worker: Worker | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  let nextId = 0;

  const runOne = (pattern: string, value: string) =>
    new Promise<boolean>((resolve) => {
      const current = worker ??= new Worker(source, { type: "module" });
      const id = ++nextId;
      const timer = setTimeout(() => {
        // Runaway: the worker is stopped where it is; the answer passes unchecked.
        current.terminate();
        if (worker === current) worker = undefined;
        resolve(true);
      }, timeoutMs);
      // A worker error must never reach the bridge: the answer passes, a fresh worker follows.
      current.onerror = (event) => {
        event.preventDefault();
        clearTimeout(timer);
        current.terminate();
        if (worker === current) worker = undefined;
        resolve(true);
      };
      current.onmessage = (event: MessageEvent<{ id: number; matches: boolean }>) => {
        if (event.data.id !== id) return;
        clearTimeout(timer);
        resolve(event.data.matches);
      };
      current.postMessage({ id, pattern, value });
    });

  const check = (pattern: string, value: string): Promise<boolean> => {
    if (waiting >= maxWaiting) return Promise.resolve(true);
    waiting++;
    const result = queue.then(() => runOne(pattern, value)).finally(() => waiting--);
    queue = result.catch(() => {});
    return result;
  };
  return Object.assign(check, {
    close() {
      worker?.terminate();
      worker = undefined;
      URL.revokeObjectURL(source);
    },
  });
}
