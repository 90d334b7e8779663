/**
 * What check-config reads from Chatwoot besides the bridge's port: the
 * inbox's own webhook callback and the account's webhooks, secrets included.
 *
 * Contract: only check-config calls these (the bridge sees the client only as
 * its ChatwootPort, so it never reads a webhook secret); they go through the
 * one `ApiCall`, so they fail as every other Chatwoot call does.
 */
import { z } from "zod";
import type { ApiCall } from "./api_call.ts";

/** The inbox's type and its own webhook callback (secret included): what check-config reads. */
export interface InboxSetup {
  id: number;
  name: string;
  channelType: string;
  webhookUrl: string | null;
  secret: string | null;
}

/** An account webhook (Settings > Integrations > Webhooks). */
export interface AccountWebhook {
  id: number;
  url: string;
  subscriptions: string[];
  secret: string | null;
}

/**
 * The calls check-config makes besides the bridge's port. They read webhook
 * secrets, so the bridge itself never makes them.
 */
export interface ChatwootSetupReader {
  readInboxSetup(): Promise<InboxSetup>;
  listAccountWebhooks(): Promise<AccountWebhook[]>;
}

const webhookSchema = z.object({
  id: z.number(),
  url: z.string(),
  subscriptions: z.array(z.string()).nullish(),
  secret: z.string().nullish(),
});

const schemas = {
  inboxSetup: z.object({
    id: z.number(),
    name: z.string(),
    channel_type: z.string(),
    webhook_url: z.string().nullish(),
    secret: z.string().nullish(),
  }),
  /** Chatwoot answers `{payload: {webhooks: [...]}}`; the swagger says a bare array. */
  webhooks: z.union([
    z.array(webhookSchema),
    z.object({ payload: z.object({ webhooks: z.array(webhookSchema) }) }).transform((v) =>
      v.payload.webhooks
    ),
    z.object({ payload: z.array(webhookSchema) }).transform((v) => v.payload),
  ]),
};

export function createSetupReader(call: ApiCall, inboxId: number): ChatwootSetupReader {
  return {
    async readInboxSetup() {
      const res = await call(
        "read inbox setup",
        "GET",
        `/inboxes/${inboxId}`,
        schemas.inboxSetup,
      );
      return {
        id: res.id,
        name: res.name,
        channelType: res.channel_type,
        webhookUrl: res.webhook_url ?? null,
        secret: res.secret ?? null,
      };
    },

    async listAccountWebhooks() {
      const res = await call("list account webhooks", "GET", "/webhooks", schemas.webhooks);
      return res.map((w) => ({
        id: w.id,
        url: w.url,
        subscriptions: w.subscriptions ?? [],
        secret: w.secret ?? null,
      }));
    },
  };
}
