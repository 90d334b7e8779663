/** A KV write that goes into someone else's atomic commit (e.g. a mailbox item's completion). */
export interface KvRecord {
  key: Deno.KvKey;
  value: unknown;
  expireIn?: number;
}
