/**
 * Discord allows a bot 50 requests per second across all routes (the global
 * limit); going over earns a global 429 that stops every request. Discordeno
 * only reacts to that 429, so the bridge paces itself: requests start evenly
 * spaced, one every 1000/`perSecond` ms at most (a leaky bucket, not a window:
 * a window lets a whole second's worth start at once, and network jitter then
 * lands some of them in Discord's next second). Interaction callbacks are not
 * subject to the global limit and do not go through here.
 */
export function createPacer(
  perSecond: number,
  now: () => number = performance.now.bind(performance),
) {
  const spacing = 1000 / perSecond;
  let next = 0;
  return {
    /** Resolves when a request may start; callers are served in order. */
    async take(): Promise<void> {
      const t = now();
      const at = Math.max(t, next);
      next = at + spacing;
      if (at > t) await new Promise((r) => setTimeout(r, at - t));
    },
  };
}
