import type { FakeChatwoot } from "./fake_chatwoot.ts";
import type { FakeDiscord } from "./fake_discord.ts";

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
