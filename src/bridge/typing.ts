/**
 * Typing indicators, both ways. They are momentary, so they are not retried:
 * a lost indicator costs nothing. On Discord they are best-effort requests
 * (DiscordPort.startTyping): they never delay a reply and are dropped when stale.
 *
 * - User → agent: Discord sends TYPING_START about every 8–10 s while the user
 *   types. The first one turns the contact's typing on in Chatwoot (client
 *   API); it is turned off 10 s after the last one.
 * - Agent → user: `conversation_typing_on` shows the bot typing in the DM,
 *   renewed every 8 s (Discord shows it 10 s) until `_off`, for at most a minute.
 */
import type { Logger } from "./ports.ts";

export const USER_TYPING_IDLE_MS = 10_000;
export const AGENT_TYPING_RENEW_MS = 8_000;
export const AGENT_TYPING_MAX_MS = 60_000;

export function createUserTypingRelay(options: {
  /** Sends on/off to Chatwoot for the user's current conversation; may throw. */
  send(userId: string, on: boolean): Promise<void>;
  log: Logger;
  idleMs?: number;
}) {
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const send = (userId: string, on: boolean) =>
    options.send(userId, on).catch((error) =>
      options.log.debug("typing indicator not relayed", {
        discordUserId: userId,
        error: String(error),
      })
    );
  return {
    userTyping(userId: string) {
      const running = timers.get(userId);
      if (running) clearTimeout(running);
      else void send(userId, true);
      timers.set(
        userId,
        setTimeout(() => {
          timers.delete(userId);
          void send(userId, false);
        }, options.idleMs ?? USER_TYPING_IDLE_MS),
      );
    },
    stop() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}

export function createAgentTypingRelay(options: {
  /** Shows the bot typing in the user's DM once (about 10 s); may throw. */
  type(userId: string): Promise<void>;
  log: Logger;
  renewMs?: number;
  maxMs?: number;
}) {
  const running = new Map<string, { interval: ReturnType<typeof setInterval>; until: number }>();
  const type = (userId: string) =>
    options.type(userId).catch((error) =>
      options.log.debug("agent typing not shown", { discordUserId: userId, error: String(error) })
    );
  const off = (userId: string) => {
    const r = running.get(userId);
    if (r) clearInterval(r.interval);
    running.delete(userId);
  };
  return {
    agentTyping(userId: string, on: boolean) {
      if (!on) return off(userId);
      const until = Date.now() + (options.maxMs ?? AGENT_TYPING_MAX_MS);
      const current = running.get(userId);
      if (current) {
        current.until = until;
        return;
      }
      void type(userId);
      const interval = setInterval(() => {
        const r = running.get(userId);
        if (!r || Date.now() >= r.until) return off(userId);
        void type(userId);
      }, options.renewMs ?? AGENT_TYPING_RENEW_MS);
      running.set(userId, { interval, until });
    },
    /** A reply was delivered: Discord stops the indicator itself; stop renewing it. */
    replied(userId: string) {
      off(userId);
    },
    stop() {
      for (const userId of [...running.keys()]) off(userId);
    },
  };
}
