/**
 * Slash command definitions and their registration with Discord.
 *
 * Registration replaces the application's global command list with
 * `COMMANDS` (one bulk PUT), so running it twice changes nothing and a
 * command removed here disappears from Discord.
 */
import { createRestManager, DISCORD_API_URL } from "@discordeno/bot";
import type { Config } from "../config.ts";
import { toDiscordError } from "./errors.ts";

export interface CommandDefinition {
  name: string;
  description: string;
}

/** The commands users see. The ticket lifecycle commands join this list. */
export const COMMANDS: CommandDefinition[] = [];

export async function registerCommands(
  config: Pick<Config, "discordToken" | "discordApplicationId" | "discordApiUrl">,
  out: (line: string) => void = console.log,
): Promise<number> {
  const rest = createRestManager({
    token: config.discordToken,
    applicationId: BigInt(config.discordApplicationId),
    ...(config.discordApiUrl !== DISCORD_API_URL
      ? { proxy: { baseUrl: config.discordApiUrl } }
      : {}),
  });
  try {
    const registered = await rest.upsertGlobalApplicationCommands(
      COMMANDS.map((c) => ({ ...c, contexts: [0, 1], integrationTypes: [0] })),
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
