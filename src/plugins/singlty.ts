/**
 * Singlty backend: `GET <SINGLTY_API_URL>/internal/users/by-discord/:discordId`
 * with `x-api-key: <SINGLTY_API_KEY>`. Its user's email becomes the contact's
 * email and its id the `user_id` custom attribute (the key web widgets use,
 * so both channels land on one contact). 404: not a Singlty user.
 */
import { z } from "zod";
import { getJson } from "./get_json.ts";
import type { ContactPlugin, Enrichment } from "./types.ts";

const userSchema = z.object({
  id: z.union([z.string(), z.number()]).nullish(),
  email: z.string().email().nullish(),
  name: z.string().min(1).nullish(),
});

export function singltyPlugin(options: {
  apiUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
}): ContactPlugin {
  const doFetch = options.fetch ?? fetch;
  return {
    name: "singlty",
    async enrichContact(user, signal): Promise<Enrichment | undefined> {
      const answer = await getJson(
        doFetch,
        `${options.apiUrl}/internal/users/by-discord/${encodeURIComponent(user.id)}`,
        { "x-api-key": options.apiKey },
        signal,
      );
      if (answer === undefined) return undefined;
      const found = userSchema.parse(answer);
      const customAttributes: Record<string, string> = {};
      if (found.id != null) customAttributes.user_id = String(found.id);
      return {
        ...(found.email ? { email: found.email } : {}),
        ...(found.name ? { name: found.name } : {}),
        customAttributes,
      };
    },
  };
}
