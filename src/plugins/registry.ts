/**
 * The static plugin registry (no directory loading: the binary must contain
 * every plugin). A plugin whose variables are not set is simply not created.
 *
 * Contract of `enrichContact`: never throws and never takes more than the
 * timeout (2 s): a failing or slow plugin costs the ticket nothing but its
 * data. Plugins run in parallel; later ones win on conflicting fields.
 */
import type { DiscordAuthor } from "../bridge/items.ts";
import type { ContactEnrichment } from "../bridge/ticket.ts";
import { displayName } from "../bridge/ticket.ts";
import type { Logger } from "../bridge/ports.ts";
import type { PluginConfig } from "../config.ts";
import { httpLookupPlugin } from "./http_lookup.ts";
import { singltyPlugin } from "./singlty.ts";
import type { ContactPlugin } from "./types.ts";

export const PLUGIN_TIMEOUT_MS = 2_000;

export function configuredPlugins(config: PluginConfig, fetchImpl?: typeof fetch): ContactPlugin[] {
  const plugins: ContactPlugin[] = [];
  if (config.singlty) plugins.push(singltyPlugin({ ...config.singlty, fetch: fetchImpl }));
  if (config.httpLookup) {
    plugins.push(httpLookupPlugin({
      urlTemplate: config.httpLookup.urlTemplate,
      header: config.httpLookup.header,
      fetch: fetchImpl,
    }));
  }
  return plugins;
}

export function createEnricher(
  plugins: ContactPlugin[],
  log: Logger,
  timeoutMs = PLUGIN_TIMEOUT_MS,
): ((author: DiscordAuthor) => Promise<ContactEnrichment>) | undefined {
  if (plugins.length === 0) return undefined;
  return async (author) => {
    const user = { id: author.id, username: author.username, displayName: displayName(author) };
    const results = await Promise.all(plugins.map(async (plugin) => {
      const controller = new AbortController();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => {
          controller.abort();
          log.warn("contact plugin timed out", { plugin: plugin.name, discordUserId: author.id });
          resolve(undefined);
        }, timeoutMs);
      });
      try {
        return await Promise.race([plugin.enrichContact(user, controller.signal), timeout]);
      } catch (error) {
        if (!controller.signal.aborted) {
          log.warn("contact plugin failed", {
            plugin: plugin.name,
            discordUserId: author.id,
            error: error instanceof Error ? error.message : String(error),
          });
        }
        return undefined;
      } finally {
        clearTimeout(timer);
      }
    }));
    const merged: ContactEnrichment = {};
    for (const r of results) {
      if (!r) continue;
      if (r.email) merged.email = r.email;
      if (r.name) merged.name = r.name;
      if (r.customAttributes) {
        merged.customAttributes = { ...merged.customAttributes, ...r.customAttributes };
      }
    }
    return merged;
  };
}
