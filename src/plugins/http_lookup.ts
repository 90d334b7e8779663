/**
 * Looks a Discord user up in any HTTP service: GET a URL with `{discordId}`
 * replaced, an optional header (an API key, say), and read `email`, `name`
 * and `customAttributes` (or `custom_attributes`) from the JSON answer.
 * A 404 means "unknown user".
 */
import { z } from "zod";
import { getJson } from "./get_json.ts";
import type { ContactPlugin, Enrichment } from "./types.ts";

const answerSchema = z.object({
  email: z.string().email().nullish(),
  name: z.string().min(1).nullish(),
  customAttributes: z.record(z.string(), z.unknown()).nullish(),
  custom_attributes: z.record(z.string(), z.unknown()).nullish(),
});

export function httpLookupPlugin(options: {
  name?: string;
  urlTemplate: string;
  header?: { name: string; value: string };
  fetch?: typeof fetch;
}): ContactPlugin {
  const doFetch = options.fetch ?? fetch;
  return {
    name: options.name ?? "http-lookup",
    async enrichContact(user, signal) {
      const url = options.urlTemplate.replaceAll("{discordId}", encodeURIComponent(user.id));
      const found = await getJson(
        doFetch,
        url,
        options.header ? { [options.header.name]: options.header.value } : {},
        signal,
      );
      if (found === undefined) return undefined;
      const answer = answerSchema.parse(found);
      const attributes = answer.customAttributes ?? answer.custom_attributes ?? {};
      const enrichment: Enrichment = {
        ...(answer.email ? { email: answer.email } : {}),
        ...(answer.name ? { name: answer.name } : {}),
        customAttributes: Object.fromEntries(
          Object.entries(attributes).map((
            [k, v],
          ) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
        ),
      };
      return enrichment;
    },
  };
}
