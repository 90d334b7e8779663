/**
 * Gateway close codes after which Discord will not let the bot back in until
 * an operator changes something. Each maps to the one line an operator needs.
 */
export const FATAL_CLOSE_CODES: Record<number, string> = {
  4004: "Discord rejected the bot token (4004 Authentication failed): check DISCORD_TOKEN",
  4010: "Discord rejected the shard setup (4010 Invalid shard)",
  4011: "Discord requires sharding for this bot (4011 Sharding required)",
  4012: "Discord rejected the gateway version (4012 Invalid API version)",
  4013: "Discord rejected the gateway intents (4013 Invalid intents)",
  4014:
    "Discord refused the requested intents (4014 Disallowed intents): enable them under Developer Portal > your application > Bot > Privileged Gateway Intents",
};

export function explainFatalClose(code: number | undefined, reason: string): string {
  if (code !== undefined && FATAL_CLOSE_CODES[code]) return FATAL_CLOSE_CODES[code];
  return `Discord closed the gateway connection for good${code ? ` (${code})` : ""}${
    reason ? `: ${reason}` : ""
  }`;
}
