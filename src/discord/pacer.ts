/**
 * Discord allows a bot 50 requests per second across all routes (the global
 * limit); going over earns a global 429 that stops every request. Discordeno
 * only reacts to that 429, so the bridge paces itself: no more than `perSecond`
 * requests start within any one-second window. Interaction callbacks are not
 * subject to the global limit and do not go through here.
 */
export function createPacer(
  perSecond: number,
  now: () => number = performance.now.bind(performance),
) {
  const starts: number[] = [];
  let chain: Promise<void> = Promise.resolve();
  const slot = async () => {
    for (;;) {
      const t = now();
      while (starts.length && t - starts[0] >= 1000) starts.shift();
      if (starts.length < perSecond) {
        starts.push(t);
        return;
      }
      await new Promise((r) => setTimeout(r, 1000 - (t - starts[0]) + 1));
    }
  };
  return {
    /** Resolves when a request may start; callers are served in order. */
    take(): Promise<void> {
      const turn = chain.then(slot);
      chain = turn.catch(() => {});
      return turn;
    },
  };
}
