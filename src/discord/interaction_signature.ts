/**
 * Discord's HTTP interactions are signed with Ed25519 over
 * `X-Signature-Timestamp + raw body` (hex signature in `X-Signature-Ed25519`).
 * Discord probes endpoints with bad signatures and expects 401, so every
 * failure here is a refusal, never an error.
 */
import { hexToBytes } from "../hex.ts";
import type { SignatureCheck } from "../signature_check.ts";

/** Interactions older than this are refused as replays. */
export const INTERACTION_MAX_AGE_SECONDS = 5 * 60;

export async function createInteractionVerifier(publicKeyHex: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    hexToBytes(publicKeyHex),
    { name: "Ed25519" },
    false,
    [
      "verify",
    ],
  );
  const encoder = new TextEncoder();
  return async (
    rawBody: string,
    headers: { signature: string | null; timestamp: string | null },
    nowSeconds = Math.floor(Date.now() / 1000),
  ): Promise<SignatureCheck> => {
    const { signature, timestamp } = headers;
    if (!signature || !timestamp) return { ok: false, reason: "missing signature headers" };
    if (!/^[0-9a-fA-F]{128}$/.test(signature)) return { ok: false, reason: "malformed signature" };
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "malformed timestamp" };
    if (Math.abs(nowSeconds - Number(timestamp)) > INTERACTION_MAX_AGE_SECONDS) {
      return { ok: false, reason: "stale timestamp" };
    }
    const valid = await crypto.subtle.verify(
      "Ed25519",
      key,
      hexToBytes(signature),
      encoder.encode(timestamp + rawBody),
    );
    return valid ? { ok: true } : { ok: false, reason: "signature mismatch" };
  };
}
