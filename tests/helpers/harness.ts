/**
 * Starts the real bridge wiring (`startBridge`, src/app/start_bridge.ts) against a fake
 * Discord and a fake Chatwoot, with a `:memory:` KV and captured logs.
 */
import { type BridgeOptions, type RunningBridge, startBridge } from "../../src/app/start_bridge.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { GatewayTimings } from "../../src/discord/reconnect_policy.ts";
import { createLogger } from "../../src/log.ts";
import { FakeChatwoot } from "../../src/fakes/fake_chatwoot.ts";
import { FakeDiscord } from "../../src/fakes/fake_discord.ts";
import { fakeEnv } from "../../src/fakes/fake_env.ts";
import { checkRequestBody } from "./swagger_check.ts";

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
  options: {
    env?: Record<string, string>;
    /** Variables that name something of the fake Discord (its fallback channel, say). */
    envFrom?: (discord: FakeDiscord) => Record<string, string>;
    webhookSecret?: string | null;
    /** Mailbox, retry and probe timings, passed to startBridge. */
    timings?: BridgeOptions["timings"];
    /** Gateway reconnection timings, passed to startBridge. */
    gatewayTimings?: Partial<GatewayTimings>;
    /**
     * Runs on the fake Discord before the bridge starts (to inject gateway faults); the
     * harness then returns without waiting for the bot to identify.
     */
    beforeStart?: (discord: FakeDiscord) => void;
  } = {},
): Promise<Harness> {
  const discord = FakeDiscord.start();
  options.beforeStart?.(discord);
  const chatwoot = FakeChatwoot.start({
    checkRequest: checkRequestBody,
    webhookSecret: options.webhookSecret === null
      ? undefined
      : options.webhookSecret ?? "harness-webhook-secret",
  });
  // `webhookSecret: null` runs unsigned, which cordwoot allows only when told explicitly.
  const unsigned: Record<string, string> = options.webhookSecret === null
    ? { ALLOW_UNSIGNED_WEBHOOKS: "true" }
    : {};
  const loaded = loadConfig(
    fakeEnv(discord, chatwoot, { ...unsigned, ...options.envFrom?.(discord), ...options.env }),
  );
  if (!loaded.ok) throw new Error(`harness config: ${loaded.problems.join("; ")}`);
  const logs: string[] = [];
  const log = createLogger({ level: "debug", format: "json", write: (l) => logs.push(l) });
  const kv = await Deno.openKv(":memory:");
  const bridge = await startBridge(loaded.config, {
    kv,
    log,
    gatewayTimings: options.gatewayTimings,
    timings: options.timings,
  });
  const httpBase = `http://127.0.0.1:${bridge.port}`;
  chatwoot.webhookUrl = `${httpBase}/webhook`;
  if (loaded.config.discordGateway && !options.beforeStart) {
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
