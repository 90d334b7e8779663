/**
 * The bot's presence follows the inbox's working hours: Online with
 * PRESENCE_ONLINE_TEXT while open, Idle with PRESENCE_OFFLINE_TEXT while closed.
 */
import { ActivityTypes } from "@discordeno/bot";
import type { PresenceConfig } from "../config.ts";
import type { DiscordBot } from "./gateway.ts";

export function presenceFor(open: boolean, texts: PresenceConfig) {
  const text = open ? texts.onlineText : texts.offlineText;
  return {
    status: open ? "online" : "idle",
    since: null,
    activities: [{ name: "Custom Status", type: ActivityTypes.Custom, state: text }],
  } as const;
}

export async function updatePresence(bot: DiscordBot, open: boolean, texts: PresenceConfig) {
  await bot.gateway.editBotStatus(presenceFor(open, texts) as never);
}

/**
 * A cron schedule for "every PRESENCE_POLL_INTERVAL_MS": cron counts whole
 * minutes, so the interval is rounded up to minutes (and to hours past 59).
 */
export function presenceCronSchedule(intervalMs: number): string {
  const minutes = Math.max(1, Math.ceil(intervalMs / 60_000));
  if (minutes < 60) return minutes === 1 ? "* * * * *" : `*/${minutes} * * * *`;
  const hours = Math.min(23, Math.ceil(minutes / 60));
  return hours === 1 ? "0 * * * *" : `0 */${hours} * * *`;
}
