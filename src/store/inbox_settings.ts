/**
 * The inbox settings cache: Chatwoot's `GET inboxes/{id}`, kept in KV with
 * its fetch time (not `expireIn`, which lags by up to a minute) and in
 * memory, for five minutes.
 */
import type { ChatwootPort, InboxSettings, InboxSettingsSource, Logger } from "../bridge/ports.ts";
import { usableTimeZone } from "../bridge/working_hours.ts";
import { keys } from "./keys.ts";

export const INBOX_SETTINGS_TTL_MS = 5 * 60_000;

interface CachedInboxSettings {
  settings: InboxSettings;
  fetchedAt: number;
}

/** Used only when Chatwoot was never reachable: accept everything, lock nothing. */
export function defaultInboxSettings(inboxId: number): InboxSettings {
  return {
    id: inboxId,
    name: "",
    channelType: "Channel::Api",
    greetingEnabled: false,
    greetingMessage: "",
    workingHoursEnabled: false,
    workingHours: [],
    timeZone: "UTC",
    outOfOfficeMessage: "",
    csatSurveyEnabled: true,
    lockToSingleConversation: false,
    inboxIdentifier: "",
  };
}

export function createInboxSettingsCache(options: {
  kv: Deno.Kv;
  chatwoot: Pick<ChatwootPort, "getInbox">;
  inboxId: number;
  log: Logger;
  now?: () => number;
}): InboxSettingsSource {
  const now = options.now ?? Date.now;
  let memory: CachedInboxSettings | undefined;
  let warnedZone: string | undefined;

  const remember = async (settings: InboxSettings) => {
    const { valid } = usableTimeZone(settings.timeZone);
    if (!valid && warnedZone !== settings.timeZone) {
      warnedZone = settings.timeZone;
      options.log.warn("inbox time zone unknown; working hours are read in UTC", {
        timeZone: settings.timeZone,
      });
    }
    memory = { settings, fetchedAt: now() };
    await options.kv.set(keys.inboxSettings(), memory);
  };

  return {
    remember,
    async get() {
      /** The cached settings while they are young enough, else undefined. */
      const fresh = (c?: CachedInboxSettings) =>
        c !== undefined && now() - c.fetchedAt < INBOX_SETTINGS_TTL_MS ? c : undefined;
      const inMemory = fresh(memory);
      if (inMemory) return inMemory.settings;
      const stored = (await options.kv.get<CachedInboxSettings>(keys.inboxSettings())).value ??
        undefined;
      const freshStored = fresh(stored);
      if (freshStored) {
        memory = freshStored;
        return freshStored.settings;
      }
      try {
        const settings = await options.chatwoot.getInbox();
        await remember(settings);
        return settings;
      } catch (error) {
        const fallback = stored ?? memory;
        options.log.warn("inbox settings unavailable; using the last known ones", {
          error: error instanceof Error ? error.message : String(error),
          haveLastKnown: fallback !== undefined,
        });
        return fallback?.settings ?? defaultInboxSettings(options.inboxId);
      }
    },
  };
}
