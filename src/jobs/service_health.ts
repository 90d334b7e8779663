/**
 * The health of what deliveries depend on: Chatwoot, Discord's REST API and
 * the bridge's own database.
 *
 * Contract: a delivery that fails because a service is down (or refuses the
 * credentials) reports an outage here. The service then shows as failing in
 * /healthz with the reason, and is probed: at once, then every `probeMs`. A
 * first probe that passes ends it (the failure was not the service's: the
 * mailbox's own backoff stands). Once a failing probe passes again, exactly the
 * mailboxes waiting on the service are woken. One probe loop per service.
 * Successful deliveries are recorded, to tell a service failing for everyone
 * from one that refuses a single item.
 */
import { describeError, type OutageService } from "../bridge/errors.ts";
import type { Logger } from "../bridge/ports.ts";

export interface ServiceStatus {
  ok: boolean;
  /** ISO time of the last check; null before the first. */
  checkedAt: string | null;
  error: string | null;
}

export interface ServiceHealthOptions {
  /** Throws when the service does not answer or refuses the credentials. */
  checks: Record<OutageService, () => Promise<void>>;
  /** Wakes the mailboxes waiting on the service; returns how many. */
  onRecovered(service: OutageService): Promise<number>;
  probeMs: number;
  log: Logger;
  signal: AbortSignal;
}

const RECENT_CHECK_MS = 1_000;

export class ServiceHealth {
  readonly #options: ServiceHealthOptions;
  readonly #status: Record<OutageService, ServiceStatus> = {
    // Chatwoot counts as down until its first check passes; the others until they fail.
    chatwoot: { ok: false, checkedAt: null, error: null },
    discord: { ok: true, checkedAt: null, error: null },
    storage: { ok: true, checkedAt: null, error: null },
  };
  readonly #probing = new Set<OutageService>();
  readonly #recent = new Map<OutageService, { at: number; result: Promise<boolean> }>();
  readonly #lastDeliveryAt = new Map<OutageService, number>();

  constructor(options: ServiceHealthOptions) {
    this.#options = options;
  }

  status(service: OutageService): ServiceStatus {
    return { ...this.#status[service] };
  }

  /** Runs the service's check now; true when it passed. */
  async check(service: OutageService): Promise<boolean> {
    const status = this.#status[service];
    try {
      await this.#options.checks[service]();
      status.ok = true;
      status.error = null;
    } catch (error) {
      status.ok = false;
      status.error = describeError(error);
      this.#options.log.warn(`${service} check failed`, { error: status.error });
    }
    status.checkedAt = new Date().toISOString();
    return status.ok;
  }

  /**
   * Whether the service answers now: its check, shared by every caller within a second (many
   * mailboxes failing at once ask once).
   */
  answers(service: OutageService): Promise<boolean> {
    const recent = this.#recent.get(service);
    if (recent && Date.now() - recent.at < RECENT_CHECK_MS) return recent.result;
    const result = this.check(service);
    this.#recent.set(service, { at: Date.now(), result });
    return result;
  }

  /** A delivery to this service succeeded. */
  delivered(service: OutageService, at = Date.now()): void {
    this.#lastDeliveryAt.set(service, at);
  }

  /** Whether a delivery to this service succeeded since `sinceMs`. */
  deliveredSince(service: OutageService, sinceMs: number): boolean {
    return (this.#lastDeliveryAt.get(service) ?? -Infinity) > sinceMs;
  }

  /** A delivery failed on this service: check it now, and probe until it is back. */
  reportOutage(service: OutageService): void {
    // What /healthz says comes from the service's own check (run at once by the probe): a
    // delivery failing while the check passes is shown as mailboxes waiting (degraded), and
    // does not make the status flap between checks.
    if (this.#probing.has(service)) return;
    this.#probing.add(service);
    void this.#probeUntilBack(service).finally(() => this.#probing.delete(service));
  }

  async #probeUntilBack(service: OutageService) {
    const { signal, probeMs, log } = this.#options;
    for (let first = true; !signal.aborted; first = false) {
      if (!first) await sleep(probeMs, signal);
      if (signal.aborted) return;
      if (await this.check(service)) {
        // Answering at once: the service is not down; waiting mailboxes keep their own backoff.
        if (first) return;
        const woken = await this.#options.onRecovered(service).catch(() => 0);
        log.info(`${service} is back; waiting mailboxes retried now`, { mailboxes: woken });
        return;
      }
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const id = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(id);
      resolve();
    }, { once: true });
  });
}

export interface HealthAssessment {
  /** False: /healthz answers 503. */
  healthy: boolean;
  /** degraded: deliveries work, but something waits too long or failed for good recently. */
  status: "ok" | "degraded" | "unhealthy";
  /** Why it is not ok, one line each. */
  problems: string[];
}

/** Unhealthy while a dependency is down; degraded while an item waits longer than allowed. */
export function assessHealth(input: {
  gatewayConnecting: boolean;
  services: Record<OutageService, ServiceStatus>;
  stats: { oldestAgeMs: number; waitingOn: Partial<Record<OutageService, number>> };
  maxItemAgeMs: number;
}): HealthAssessment {
  const down: string[] = [];
  if (input.gatewayConnecting) down.push("discord gateway: not connected");
  for (const [service, status] of Object.entries(input.services)) {
    if (!status.ok) down.push(`${service}: ${status.error ?? "not checked yet"}`);
  }
  if (down.length) return { healthy: false, status: "unhealthy", problems: down };
  const slow: string[] = [];
  // The service answers its check, but deliveries to it keep failing (e.g. its writes fail).
  for (const [service, waiting] of Object.entries(input.stats.waitingOn)) {
    if (waiting) slow.push(`${waiting} mailbox(es) wait on ${service}: deliveries to it fail`);
  }
  if (input.stats.oldestAgeMs > input.maxItemAgeMs) {
    const minutes = Math.floor(input.stats.oldestAgeMs / 60_000);
    slow.push(`an item has waited ${minutes} min (HEALTH_MAX_ITEM_AGE_MINUTES)`);
  }
  if (slow.length) return { healthy: true, status: "degraded", problems: slow };
  return { healthy: true, status: "ok", problems: [] };
}
