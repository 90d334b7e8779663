/**
 * Exactly one instance holds the Discord gateway connection: the holder of a
 * KV lease, renewed every 5 s and valid for 15 s. A standby checks as often
 * and takes over once the lease has run out (the holder died or lost KV).
 * A holder that cannot renew disconnects, so two connections never overlap
 * for longer than one renewal period.
 */
import type { Logger } from "../bridge/ports.ts";
import { keys } from "../store/keys.ts";

export const LEADER_LEASE_MS = 15_000;
export const LEADER_RENEW_MS = 5_000;

interface LeaderLease {
  owner: string;
  expiresAt: number;
}

export interface GatewayLeadership {
  /** Starts competing for the lease (connecting on winning it). */
  start(): void;
  /** Competing (start() was called, stop() not yet). */
  readonly started: boolean;
  readonly isLeader: boolean;
  /** Stops competing; releases the lease if held (a standby then takes over at once). */
  stop(): Promise<void>;
}

export function gatewayLeadership(options: {
  kv: Deno.Kv;
  instanceId: string;
  /** Connects the gateway; called on becoming leader. */
  connect(): void;
  /** Disconnects; called on losing the lease. */
  disconnect(): Promise<void>;
  log: Logger;
  leaseMs?: number;
  renewMs?: number;
}): GatewayLeadership {
  const leaseMs = options.leaseMs ?? LEADER_LEASE_MS;
  const key = keys.gatewayLeader();
  let held: Deno.KvEntryMaybe<LeaderLease> | undefined;
  const stopping = new AbortController();

  const tick = async () => {
    const now = Date.now();
    const current = await options.kv.get<LeaderLease>(key);
    const mine = held && current.versionstamp === held.versionstamp;
    if (!mine && current.value && current.value.expiresAt > now) {
      if (held) {
        held = undefined;
        options.log.warn("gateway lease lost to another instance; disconnecting");
        await options.disconnect();
      }
      return;
    }
    const lease: LeaderLease = { owner: options.instanceId, expiresAt: now + leaseMs };
    const res = await options.kv.atomic().check(current).set(key, lease).commit();
    if (!res.ok) return; // another instance was quicker
    const wasLeader = held !== undefined;
    held = { key, value: lease, versionstamp: res.versionstamp };
    if (!wasLeader) {
      options.log.info("this instance holds the gateway", { instanceId: options.instanceId });
      options.connect();
    }
  };

  const run = async () => {
    while (!stopping.signal.aborted) {
      try {
        await tick();
      } catch (error) {
        options.log.warn("gateway lease check failed", { error: String(error) });
      }
      await new Promise<void>((resolve) => {
        const id = setTimeout(resolve, options.renewMs ?? LEADER_RENEW_MS);
        stopping.signal.addEventListener("abort", () => {
          clearTimeout(id);
          resolve();
        }, { once: true });
      });
    }
  };
  let loop: Promise<void> | undefined;

  return {
    start() {
      loop ??= run();
    },
    get started() {
      return loop !== undefined && !stopping.signal.aborted;
    },
    get isLeader() {
      return held !== undefined;
    },
    async stop() {
      stopping.abort();
      await loop;
      if (held) {
        await options.kv.atomic().check(held).delete(key).commit();
        held = undefined;
      }
    },
  };
}
