/**
 * What checking a signed request says, shared by the adapters that sign
 * (Chatwoot webhooks: HMAC; Discord interactions: Ed25519) and the HTTP
 * surface that refuses what fails. A failed check is a refusal (401), never
 * an error; `reason` is for logs and never holds a secret.
 */
export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Compares every byte whatever the first difference, so timing reveals nothing. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
