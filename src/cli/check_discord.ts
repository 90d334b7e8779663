/**
 * check-config's Discord checks: the token, the application id, the
 * interactions public key and the slash commands, read from Discord's REST
 * API (or DISCORD_API_URL) with plain GETs.
 *
 * Contract: a check passes only on Discord's own answer of the expected
 * shape; the token is sent only to DISCORD_API_URL and never printed.
 */
import { z } from "zod";
import denoJson from "../../deno.json" with { type: "json" };
import { TICKET_COMMANDS } from "../bridge/commands.ts";
import type { Config } from "../config.ts";
import { type Check, describeAnswer, type Get } from "./check_answer.ts";

const DISCORD_API = "https://discord.com/api";

const applicationSchema = z.object({
  id: z.string().regex(/^\d{17,20}$/),
  name: z.string(),
  verify_key: z.string().nullish(),
});
const commandListSchema = z.array(z.object({ name: z.string() }));

export async function checkDiscord(config: Config, get: Get): Promise<Check[]> {
  const api = config.discordApiUrl;
  const headers = {
    authorization: `Bot ${config.discordToken}`,
    "user-agent": `DiscordBot (https://github.com/cordwoot, ${denoJson.version})`,
    accept: "application/json",
  };
  const unreachable = (what: string): Check => ({
    ok: false,
    label: "Discord API",
    detail: what,
    fix: api === DISCORD_API
      ? "check that this machine can reach discord.com (firewall, proxy), then try again"
      : "check DISCORD_API_URL (empty means Discord itself) and that this machine can reach it",
  });
  const me = await get(`${api}/v10/applications/@me`, headers);
  if (!me.reached) return [unreachable(`cannot reach ${api}: ${me.cause}`)];
  if (me.status === 401) {
    return [{
      ok: false,
      label: "Discord token",
      detail: "Discord refused the token (HTTP 401)",
      fix: "Developer Portal > your application > Bot > Reset Token, then put it in DISCORD_TOKEN",
    }];
  }
  const app = me.status === 200 ? applicationSchema.safeParse(me.json) : undefined;
  if (!app?.success) {
    const failing = me.status === 429 || me.status >= 500;
    return [
      unreachable(
        failing
          ? `${api} answered ${describeAnswer(me)}: Discord is rate-limiting or failing`
          : `${api} answered ${
            describeAnswer(me)
          } to GET /applications/@me, not Discord's application object`,
      ),
    ];
  }
  const checks: Check[] = [{
    ok: true,
    label: "Discord token",
    detail: `accepted (application "${app.data.name}", ${app.data.id})`,
  }];
  const sameApp = app.data.id === config.discordApplicationId;
  checks.push({
    ok: sameApp,
    label: "Discord application id",
    detail: sameApp
      ? "matches"
      : `the token belongs to application ${app.data.id}, DISCORD_CLIENT_ID says ${config.discordApplicationId}`,
    fix:
      "set DISCORD_CLIENT_ID to the Application ID shown under General Information (or leave it empty)",
  });
  checks.push({
    ok: true,
    label: "Gateway intents",
    detail: "Direct Messages and Direct Message Typing are not privileged: nothing to enable",
  });
  if (config.discordPublicKey) {
    const same = app.data.verify_key?.toLowerCase() === config.discordPublicKey;
    checks.push({
      ok: same,
      label: "Interactions public key",
      detail: same
        ? "DISCORD_PUBLIC_KEY matches the application"
        : "DISCORD_PUBLIC_KEY is not this application's key",
      fix: "copy General Information > Public Key into DISCORD_PUBLIC_KEY",
    });
  }
  const listed = await get(
    `${api}/v10/applications/${config.discordApplicationId}/commands`,
    headers,
  );
  const commands = listed.reached && listed.status === 200
    ? commandListSchema.safeParse(listed.json)
    : undefined;
  if (!commands?.success) {
    checks.push({
      ok: false,
      label: "Slash commands",
      detail: `cannot list them: ${listed.reached ? describeAnswer(listed) : listed.cause}`,
      fix: "run `cordwoot register-commands` once the token works",
    });
    return checks;
  }
  const registered = new Set(commands.data.map((c) => c.name));
  const wanted = [config.ticketCommand, ...TICKET_COMMANDS.map((c) => c.name)];
  const missing = wanted.filter((n) => !registered.has(n));
  checks.push({
    ok: missing.length === 0,
    label: "Slash commands",
    detail: missing.length
      ? `not registered: /${missing.join(", /")}`
      : `registered: /${wanted.join(", /")}`,
    fix: "run `cordwoot register-commands` (or `deno task register-commands`)",
  });
  return checks;
}
