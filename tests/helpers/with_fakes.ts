/**
 * Runs `fn` with a fresh fake Discord and fake Chatwoot, and closes both afterwards.
 * The fake Chatwoot signs its webhooks (cordwoot refuses to start without WEBHOOK_SECRET).
 */
import { FakeChatwoot } from "../../src/fakes/fake_chatwoot.ts";
import { FakeDiscord } from "../../src/fakes/fake_discord.ts";
import { checkRequestBody } from "./swagger_check.ts";

export async function withFakes(
  fn: (discord: FakeDiscord, chatwoot: FakeChatwoot) => Promise<void>,
  options: { webhookSecret?: string } = {},
): Promise<void> {
  const discord = FakeDiscord.start();
  const chatwoot = FakeChatwoot.start({
    checkRequest: checkRequestBody,
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
