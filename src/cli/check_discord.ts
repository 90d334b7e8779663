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
  flags: z.number().nullish(),
});
const channelSchema = z.object({
  id: z.string(),
  type: z.number(),
  guild_id: z.string().nullish(),
});

/** Application flags: the Message Content intent is enabled (full, or limited below 100 servers). */
const MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19);
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
  if (config.fallbackChannelId) {
    const contentOn = ((app.data.flags ?? 0) & MESSAGE_CONTENT_FLAGS) !== 0;
    checks.push({
      ok: contentOn,
      label: "Gateway intents",
      detail: contentOn
        ? "Message Content is enabled (FALLBACK_CHANNEL_ID reads the fallback threads)"
        : "FALLBACK_CHANNEL_ID needs the Message Content intent, which is not enabled",
      fix:
        "Developer Portal > your application > Bot > Privileged Gateway Intents > Message Content",
    });
    checks.push(await checkFallbackChannel(api, config.fallbackChannelId, headers, get));
  } else {
    checks.push({
      ok: true,
      label: "Gateway intents",
      detail: "Direct Messages and Direct Message Typing are not privileged: nothing to enable",
    });
  }
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

/** FALLBACK_CHANNEL_ID names a server text channel the bot can see. */
async function checkFallbackChannel(
  api: string,
  channelId: string,
  headers: Record<string, string>,
  get: Get,
): Promise<Check> {
  const answer = await get(`${api}/v10/channels/${channelId}`, headers);
  const channel = answer.reached && answer.status === 200
    ? channelSchema.safeParse(answer.json)
    : undefined;
  const ok = channel?.success === true && channel.data.type === 0 && !!channel.data.guild_id;
  return {
    ok,
    label: "Fallback channel",
    detail: ok
      ? `FALLBACK_CHANNEL_ID ${channelId} is a server text channel the bot can see`
      : channel?.success
      ? `FALLBACK_CHANNEL_ID ${channelId} is not a server text channel (type ${channel.data.type})`
      : `cannot read channel ${channelId}: ${
        answer.reached ? describeAnswer(answer) : answer.cause
      }`,
    fix: "copy a text channel's id (Developer Mode > right-click > Copy Channel ID) and give the " +
      "bot View Channel, Create Private Threads, Send Messages in Threads, Manage Threads and " +
      "Read Message History there",
  };
}
