/**
 * Slash command definitions and their registration with Discord.
 *
 * Registration replaces the application's global command list with
 * `COMMANDS` (one bulk PUT), so running it twice changes nothing and a
 * command removed here disappears from Discord.
 */
import { limitRequestTime } from "./rest_deadline.ts";
import {
  ApplicationCommandOptionTypes,
  createRestManager,
  DISCORD_API_URL,
  DiscordApplicationIntegrationType,
  DiscordInteractionContextType,
} from "@discordeno/bot";
import { TICKET_COMMANDS, ticketCommand } from "../bridge/commands.ts";
import type { Config } from "../config.ts";
import { toDiscordError } from "./errors.ts";

/**
 * The global command list, for both installation types: added to a server
 * (guild install) or by a user to their own account (user install). Every
 * command works in server channels (a user whose DMs are closed talks to us
 * in a server thread), the bot's DMs, and other DMs and group DMs where the
 * user added the app; every answer is private (ephemeral).
 */
export function commandPayloads(ticketCommandName: string) {
  const anywhere = [
    DiscordInteractionContextType.Guild,
    DiscordInteractionContextType.BotDm,
    DiscordInteractionContextType.PrivateChannel,
  ];
  return [ticketCommand(ticketCommandName), ...TICKET_COMMANDS].map((c) => ({
    name: c.name,
    description: c.description,
    integrationTypes: [
      DiscordApplicationIntegrationType.GuildInstall,
      DiscordApplicationIntegrationType.UserInstall,
    ],
    contexts: anywhere,
    options: (c.options ?? []).map((o) => ({
      type: ApplicationCommandOptionTypes.String,
      name: o.name,
      description: o.description,
      required: o.required,
      ...(o.maxLength ? { maxLength: o.maxLength } : {}),
    })),
  }));
}

export async function registerCommands(
  config: Pick<
    Config,
    "discordToken" | "discordApplicationId" | "discordApiUrl" | "ticketCommand"
  >,
  out: (line: string) => void = console.log,
): Promise<number> {
  const rest = createRestManager({
    token: config.discordToken,
    applicationId: BigInt(config.discordApplicationId),
    ...(config.discordApiUrl !== DISCORD_API_URL
      ? { proxy: { baseUrl: config.discordApiUrl } }
      : {}),
  });
  limitRequestTime(rest);
  try {
    const registered = await rest.upsertGlobalApplicationCommands(
      commandPayloads(config.ticketCommand),
    );
    out(
      `Registered ${registered.length} global command(s) for application ${config.discordApplicationId}:`,
    );
    for (const c of registered) out(`  /${c.name} — ${c.description}`);
    return 0;
  } catch (error) {
    const failure = toDiscordError(error, "command registration");
    out(
      failure.status === 401
        ? "Discord rejected the bot token (HTTP 401): check DISCORD_TOKEN"
        : failure.message,
    );
    return 1;
  }
}
