/**
 * What the mailboxes report: counters and latency for /metrics, and outages
 * to the service health (which then probes the service until it is back).
 */
import type { Direction } from "../bridge/items.ts";
import type { Metrics } from "../http/metrics.ts";
import type { MailboxEntry, MailboxObserver } from "../jobs/mailbox.ts";
import type { ServiceHealth } from "../jobs/service_health.ts";

/** Follow-ups (a status mark, an alert to the agents) are bookkeeping, not relayed messages. */
const BOOKKEEPING = new Set(["delivery_status", "agent_alert"]);

/** The `direction` label: where the message went (inbound: Chatwoot, outbound: Discord). */
function destination(dir: Direction): "to_chatwoot" | "to_discord" {
  return dir === "in" ? "to_chatwoot" : "to_discord";
}

function facts(entry: MailboxEntry): { kind: string; receivedAt?: number } {
  const item = entry.item;
  if (typeof item !== "object" || item === null) return { kind: "" };
  const kind = "kind" in item && typeof item.kind === "string" ? item.kind : "";
  const receivedAt = "receivedAt" in item && typeof item.receivedAt === "number"
    ? item.receivedAt
    : undefined;
  return { kind, receivedAt };
}

export function observeMailboxes(metrics: Metrics, health: ServiceHealth): MailboxObserver {
  return {
    delivered(dir, entry) {
      health.delivered(dir === "in" ? "chatwoot" : "discord");
      const { kind, receivedAt } = facts(entry);
      if (BOOKKEEPING.has(kind)) return;
      const direction = destination(dir);
      metrics.inc("cordwoot_messages_relayed_total", { direction, kind });
      if (receivedAt) metrics.observeLatency({ direction }, (Date.now() - receivedAt) / 1000);
    },
    retrying(dir, failure) {
      if (failure.cause === "outage" && !failure.rateLimit) {
        health.reportOutage(failure.service);
      }
      const direction = destination(dir);
      metrics.inc("cordwoot_retries_scheduled_total", { direction });
      metrics.inc("cordwoot_delivery_failures_total", {
        direction,
        reason: failure.cause === "outage" ? `${failure.service}_outage` : "item",
      });
    },
    dead(dir) {
      metrics.inc("cordwoot_delivery_failures_total", {
        direction: destination(dir),
        reason: "permanent",
      });
    },
  };
}
