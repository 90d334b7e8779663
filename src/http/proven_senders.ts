/**
 * Remote addresses that proved themselves: they delivered a correctly signed
 * webhook (or a verified Discord interaction) within the last `ttlMs`. Such
 * an address is Chatwoot (or Discord) for all the bridge can tell, and gets
 * capacity that unproven addresses cannot take (admission.ts).
 *
 * Only a request signed with the secret adds an address, so the registry
 * cannot be grown by someone without it; it is bounded all the same
 * (`maxAddresses`, the least recently proven forgotten first). Kept in memory:
 * after a restart every address starts unproven again, until its next signed
 * request.
 */

export interface ProvenSenders {
  /** `address` just delivered a correctly signed request. */
  prove(address: string): void;
  /** Whether `address` did so within the last `ttlMs`. */
  isProven(address: string): boolean;
}

export interface ProvenSendersOptions {
  ttlMs?: number;
  maxAddresses?: number;
  now?: () => number;
}

/** An hour: Chatwoot sends at least that often on a live inbox, and the reserve follows it. */
const PROOF_TTL_MS = 3_600_000;

export function createProvenSenders(options: ProvenSendersOptions = {}): ProvenSenders {
  const ttlMs = options.ttlMs ?? PROOF_TTL_MS;
  const maxAddresses = options.maxAddresses ?? 256;
  const now = options.now ?? Date.now;
  /** Address → when it last proved itself; oldest first (Map keeps insertion order). */
  const provedAt = new Map<string, number>();
  return {
    prove(address) {
      const key = addressKey(address);
      provedAt.delete(key);
      provedAt.set(key, now());
      if (provedAt.size > maxAddresses) provedAt.delete(provedAt.keys().next().value!);
    },
    isProven(address) {
      const at = provedAt.get(addressKey(address));
      return at !== undefined && now() - at < ttlMs;
    },
  };
}

/** One key per address: an IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) is a.b.c.d. */
export function addressKey(address: string): string {
  return address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "");
}
