import type { Logger } from "../bridge/ports.ts";
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";

export function loggerFor(config: Config): Logger {
  return createLogger({
    level: config.logLevel,
    format: config.logFormat, // unset: pretty on a terminal, JSON otherwise
    secrets: secretsOf(config),
  });
}

/** Every secret value in the configuration: never printed, wherever it turns up. */
export function secretsOf(config: Config): string[] {
  return [
    config.discordToken,
    config.chatwootApiToken,
    config.webhookSecret,
    config.kvAccessToken,
    config.metricsToken,
    config.plugins.singlty?.apiKey,
    config.plugins.httpLookup?.header?.value,
  ].filter((s): s is string => !!s);
}
