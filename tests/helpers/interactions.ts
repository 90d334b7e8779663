/** Signs interactions the way Discord does (Ed25519 over timestamp + body), with a test key pair. */
export interface InteractionSigner {
  publicKeyHex: string;
  sign(timestamp: string, body: string): Promise<string>;
}

const hex = (bytes: ArrayBuffer) =>
  [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

export async function interactionSigner(): Promise<InteractionSigner> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  return {
    publicKeyHex: hex(await crypto.subtle.exportKey("raw", pair.publicKey)),
    async sign(timestamp, body) {
      return hex(
        await crypto.subtle.sign(
          "Ed25519",
          pair.privateKey,
          new TextEncoder().encode(timestamp + body),
        ),
      );
    },
  };
}

/** POSTs an interaction to the bridge, signed (or not) as the case needs. */
export async function postInteraction(
  httpBase: string,
  signer: InteractionSigner,
  payload: unknown,
  options: {
    body?: string;
    timestamp?: number;
    signature?: string | null;
    timestampHeader?: string | null;
  } = {},
): Promise<Response> {
  const body = options.body ?? JSON.stringify(payload);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { "content-type": "application/json" };
  const signature = options.signature === undefined
    ? await signer.sign(timestamp, JSON.stringify(payload))
    : options.signature;
  if (signature !== null) headers["x-signature-ed25519"] = signature;
  if (options.timestampHeader !== null) {
    headers["x-signature-timestamp"] = options.timestampHeader ?? timestamp;
  }
  return await fetch(`${httpBase}/interactions`, { method: "POST", headers, body });
}

/** An APPLICATION_COMMAND interaction as Discord sends it from a DM (context 1) or a server. */
export function commandInteraction(
  userId: string,
  name: string,
  options: Record<string, string>,
  where: { dmChannelId?: string; guildId?: string } = {},
) {
  const user = {
    id: userId,
    username: `user${userId.slice(-4)}`,
    discriminator: "0",
    global_name: "Tester",
    avatar: null,
  };
  return {
    id: String(
      BigInt(Date.now() - 1420070400000) << 22n | BigInt(Math.floor(Math.random() * 4096)),
    ),
    application_id: "111111111111111111",
    type: 2,
    token: `itoken-${crypto.randomUUID()}`,
    version: 1,
    ...(where.guildId
      ? { guild_id: where.guildId, member: { user }, channel_id: "999999999999999991", context: 0 }
      : { user, channel_id: where.dmChannelId ?? "999999999999999992", context: 1 }),
    locale: "en-US",
    data: {
      id: "888888888888888888",
      name,
      type: 1,
      options: Object.entries(options).map(([n, value]) => ({ name: n, type: 3, value })),
    },
  };
}
