/**
 * What /healthz and /metrics say: the gateway, each service's last check, and
 * the mailboxes' counts (constant time, see mailbox_stats.ts).
 */
import type { OutageService } from "../bridge/errors.ts";
import type { GatewayStatus } from "../discord/gateway_supervisor.ts";
import type { HealthReport } from "../http/app.ts";
import type { Gauge } from "../http/metrics.ts";
import type { MailboxStats } from "../jobs/mailbox_stats.ts";
import { assessHealth, type ServiceHealth } from "../jobs/service_health.ts";
import { VERSION } from "../version.ts";

/** off: HTTP only; standby: another instance holds the gateway; connecting; ready. */
export type GatewayState = "off" | "standby" | "connecting" | "ready";

export interface HealthSources {
  gatewayState(): GatewayState;
  gatewayStatus(): GatewayStatus;
  services: ServiceHealth;
  stats(): Promise<MailboxStats>;
  wakeups: "queue" | "inline";
  maxItemAgeMs: number;
}

const SERVICES: OutageService[] = ["chatwoot", "discord", "storage"];

export async function healthReport(sources: HealthSources): Promise<HealthReport> {
  const gateway = sources.gatewayState();
  const stats = await sources.stats();
  const services = {
    chatwoot: sources.services.status("chatwoot"),
    discord: sources.services.status("discord"),
    storage: sources.services.status("storage"),
  };
  const { attempts, lastError, lastErrorAt, nextAttemptAt, readySince } = sources.gatewayStatus();
  return {
    ...assessHealth({
      gatewayConnecting: gateway === "connecting",
      services,
      stats,
      maxItemAgeMs: sources.maxItemAgeMs,
    }),
    version: VERSION,
    gateway: {
      state: gateway,
      ready: gateway === "ready",
      attempts,
      lastError,
      lastErrorAt,
      nextAttemptAt,
      readySince,
    },
    chatwoot: services.chatwoot,
    discordRest: services.discord,
    storage: services.storage,
    mailboxes: { ...stats, wakeups: sources.wakeups },
  };
}

/** The gauges of /metrics (the counters and the histogram live in Metrics). */
export async function healthGauges(sources: HealthSources): Promise<Gauge[]> {
  const stats = await sources.stats();
  return [
    { name: "cordwoot_mailbox_depth", help: "Items waiting in mailboxes.", value: stats.depth },
    {
      name: "cordwoot_mailbox_oldest_age_seconds",
      help: "Age of the oldest waiting item.",
      value: stats.oldestAgeMs / 1000,
    },
    {
      name: "cordwoot_mailboxes_retrying",
      help: "Mailboxes waiting to retry.",
      value: stats.retrying,
    },
    { name: "cordwoot_dead_letters", help: "Items that failed for good.", value: stats.dead },
    {
      name: "cordwoot_dead_letter_oldest_age_seconds",
      help: "Age of the oldest dead letter.",
      value: stats.oldestDeadAgeMs / 1000,
    },
    ...SERVICES.map((service) => ({
      name: `cordwoot_mailboxes_waiting_on_${service}`,
      help: `Mailboxes paused by an outage of ${service}.`,
      value: stats.waitingOn[service] ?? 0,
    })),
    {
      name: "cordwoot_discord_rest_ok",
      help: "1 unless Discord's REST API failed or refused the token.",
      value: sources.services.status("discord").ok ? 1 : 0,
    },
    {
      name: "cordwoot_gateway_ready",
      help: "1 when the gateway is connected.",
      value: sources.gatewayState() === "ready" ? 1 : 0,
    },
    {
      name: "cordwoot_chatwoot_ok",
      help: "1 when the last Chatwoot check passed.",
      value: sources.services.status("chatwoot").ok ? 1 : 0,
    },
  ];
}
