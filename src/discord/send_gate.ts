/**
 * The last guard before a request leaves for Discord: at most `perSecond`
 * requests in any rolling second, counted when they are actually sent.
 *
 * The request scheduler (request_scheduler.ts) decides the order and spaces
 * its grants, but Discordeno sends a granted request through its own per-route
 * queue and retries on its own, so sends can bunch up (an event loop busy with
 * a DM flood releases several at once), and a bunch is what earns a global 429.
 * Counting at the send itself makes the limit hold whatever happened before.
 * Interaction callbacks and webhook follow-ups are not under the global limit
 * and pass at once.
 */
import type { RestManager } from "@discordeno/bot";

/** Under Discord's 50 per second, with room for the network's jitter. */
const DISCORD_SENDS_PER_SECOND = 48;

type SendRequest = RestManager["sendRequest"];

export interface SendGateClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: SendGateClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** A rolling-second limiter; `pass()` resolves when one more send fits, in call order. */
export function createSendGate(perSecond: number, clock: SendGateClock = realClock) {
  /** Send times within the last second, oldest first. */
  const sent: number[] = [];
  let line: Promise<void> = Promise.resolve();
  const admit = async () => {
    for (;;) {
      const now = clock.now();
      while (sent.length && now - sent[0] >= 1000) sent.shift();
      if (sent.length < perSecond) {
        sent.push(now);
        return;
      }
      await clock.sleep(sent[0] + 1000 - now);
    }
  };
  return {
    pass(): Promise<void> {
      const turn = line.then(admit);
      line = turn.catch(() => {});
      return turn;
    },
  };
}

/** Installs the gate on `rest` (once). */
export function limitSendRate(rest: RestManager, perSecond = DISCORD_SENDS_PER_SECOND): void {
  if (gated.has(rest)) return;
  gated.add(rest);
  const gate = createSendGate(perSecond);
  const sendRequest: SendRequest = rest.sendRequest;
  rest.sendRequest = async (request) => {
    if (!outsideGlobalLimit(request.route)) await gate.pass();
    return await sendRequest.call(rest, request);
  };
}

const gated = new WeakSet<object>();

/** Interaction callbacks and follow-ups (webhook routes) do not count against the global limit. */
function outsideGlobalLimit(route: string): boolean {
  return /\/interactions\/\d+\/[^/]+\/callback|\/webhooks\/\d+\/[^/]+/.test(route);
}
