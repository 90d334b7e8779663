/**
 * Starts the real bridge wiring (`startBridge` from main.ts) against a fake
 * Discord and a fake Chatwoot, with a `:memory:` KV and captured logs.
 */
import { type RunningBridge, startBridge } from "../../main.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { FakeChatwoot } from "../fakes/fake_chatwoot.ts";
import { FakeDiscord } from "../fakes/fake_discord.ts";
import { fakeEnv } from "../fakes/fake_env.ts";

export { fakeEnv };

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
