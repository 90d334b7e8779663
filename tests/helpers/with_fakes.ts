/**
 * Runs `fn` with a fresh fake Discord and fake Chatwoot, and closes both afterwards.
 * The fake Chatwoot signs its webhooks (cordwoot refuses to start without WEBHOOK_SECRET).
 */
import { FakeChatwoot } from "../fakes/fake_chatwoot.ts";
import { FakeDiscord } from "../fakes/fake_discord.ts";

export async function withFakes(
  fn: (discord: FakeDiscord, chatwoot: FakeChatwoot) => Promise<void>,
  options: { webhookSecret?: string } = {},
): Promise<void> {
  const discord = FakeDiscord.start();
  const chatwoot = FakeChatwoot.start({
    ...options,
    webhookSecret: options.webhookSecret ?? "fake-webhook-secret",
  });
  try {
    await fn(discord, chatwoot);
  } finally {
    await discord.close();
    await chatwoot.close();
  }
}
