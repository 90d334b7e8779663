/**
 * Starts the real bridge wiring (`startBridge` from main.ts) against a fake
 * Discord and a fake Chatwoot, with a `:memory:` KV and captured logs.
 */
import { type RunningBridge, startBridge } from "../../main.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { FakeChatwoot } from "../fakes/fake_chatwoot.ts";
import { FakeDiscord } from "../fakes/fake_discord.ts";

export interface Harness {
  discord: FakeDiscord;
  chatwoot: FakeChatwoot;
  bridge: RunningBridge;
  config: Config;
  logs: string[];
  /** The bridge's HTTP base, e.g. http://127.0.0.1:PORT */
  httpBase: string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Environment that points the bridge at the fakes. */
export function fakeEnv(
  discord: FakeDiscord,
  chatwoot: FakeChatwoot,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DISCORD_TOKEN: discord.token,
    DISCORD_API_URL: discord.restBase,
    DISCORD_CDN_URL: discord.cdnBase,
    CHATWOOT_BASE_URL: chatwoot.baseUrl,
    CHATWOOT_ACCOUNT_ID: String(chatwoot.accountId),
    CHATWOOT_API_TOKEN: chatwoot.token,
    CHATWOOT_INBOX_ID: String(chatwoot.inboxId),
    WEBHOOK_PORT: "0",
    WEBHOOK_HOST: "127.0.0.1",
    KV_PATH: ":memory:",
    ...(chatwoot.webhookSecret ? { WEBHOOK_SECRET: chatwoot.webhookSecret } : {}),
    ...extra,
  };
}

export async function startHarness(
  options: { env?: Record<string, string>; webhookSecret?: string | null } = {},
): Promise<Harness> {
  const discord = FakeDiscord.start();
  const chatwoot = FakeChatwoot.start({
    webhookSecret: options.webhookSecret === null
      ? undefined
      : options.webhookSecret ?? "harness-webhook-secret",
  });
  const loaded = loadConfig(fakeEnv(discord, chatwoot, options.env));
  if (!loaded.ok) throw new Error(`harness config: ${loaded.problems.join("; ")}`);
  const logs: string[] = [];
  const log = createLogger({ level: "debug", format: "json", write: (l) => logs.push(l) });
  const kv = await Deno.openKv(":memory:");
  const bridge = await startBridge(loaded.config, { kv, log });
  const httpBase = `http://127.0.0.1:${bridge.port}`;
  chatwoot.webhookUrl = `${httpBase}/webhook`;
  if (loaded.config.discordGateway) {
    await discord.waitFor(() => discord.connectedSessions > 0, "the bot to identify");
  }
  const stop = async () => {
    await bridge.stop();
    kv.close();
    await discord.close();
    await chatwoot.close();
  };
  return {
    discord,
    chatwoot,
    bridge,
    config: loaded.config,
    logs,
    httpBase,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
