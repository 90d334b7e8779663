/**
 * `cordwoot serve` exactly as main.ts runs it (configuration from the
 * environment and ./.env, signals, exit codes), with the mailbox and gateway
 * leases a fifth of production's 15 s. Process tests that kill an instance
 * run this, so that the survivor or the restarted process takes over after
 * 3 s instead of 15 s; the takeover path is the same.
 */
import { serve } from "../../src/cli/serve.ts";

export const SHORT_LEASES = {
  mailboxLeaseMs: 3_000,
  leaderLeaseMs: 3_000,
  leaderRenewMs: 1_000,
};

if (import.meta.main) {
  Deno.exit(await serve({ timings: SHORT_LEASES }));
}
