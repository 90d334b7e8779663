/**
 * Prometheus text exposition for `GET /metrics`: counters and a latency
 * histogram kept in this process, plus gauges read at scrape time.
 */
export type Labels = Record<string, string>;

/** Delivery latency buckets, in seconds: from a fast local round trip to a long outage. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

const HELP: Record<string, [type: string, help: string]> = {
  cordwoot_messages_relayed_total: ["counter", "Items delivered, by direction and kind."],
  cordwoot_delivery_failures_total: [
    "counter",
    "Failed delivery attempts, by direction and reason.",
  ],
  cordwoot_retries_scheduled_total: ["counter", "Mailbox retries scheduled, by direction."],
  cordwoot_webhooks_total: ["counter", "Webhook deliveries received, by outcome."],
  cordwoot_discord_requests_dropped_total: [
    "counter",
    "Best-effort Discord requests (confirmation, typing) given up, by class and reason: " +
    "stale or queue_full (never sent), failed (Discord refused or did not answer).",
  ],
  cordwoot_delivery_latency_seconds: ["histogram", "From arrival to delivery on the far side."],
};

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A current value, rendered at each scrape. */
export interface Gauge {
  name: string;
  help: string;
  value: number;
  labels?: Labels;
}

export class Metrics {
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #histograms = new Map<string, { counts: number[]; sum: number; count: number }>();

  inc(name: string, labels: Labels = {}, by = 1): void {
    const series = this.#counters.get(name) ?? new Map<string, number>();
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + by);
    this.#counters.set(name, series);
  }

  observeLatency(labels: Labels, seconds: number): void {
    const key = labelText(labels);
    const h = this.#histograms.get(key) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) h.counts[i]++;
    });
    h.sum += seconds;
    h.count++;
    this.#histograms.set(key, h);
  }

  /** The exposition text; `gauges` are current values (name → value, optionally labelled). */
  render(gauges: Gauge[]): string {
    const lines: string[] = [];
    for (const [name, series] of this.#counters) {
      const [type, help] = HELP[name] ?? ["counter", name];
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of series) lines.push(`${name}${labels} ${value}`);
    }
    if (this.#histograms.size) {
      const name = "cordwoot_delivery_latency_seconds";
      lines.push(`# HELP ${name} ${HELP[name][1]}`, `# TYPE ${name} histogram`);
      for (const [labels, h] of this.#histograms) {
        const inner = labels.slice(1, -1);
        BUCKETS.forEach((b, i) => {
          lines.push(`${name}_bucket{${inner ? `${inner},` : ""}le="${b}"} ${h.counts[i]}`);
        });
        lines.push(`${name}_bucket{${inner ? `${inner},` : ""}le="+Inf"} ${h.count}`);
        lines.push(`${name}_sum${labels} ${h.sum}`, `${name}_count${labels} ${h.count}`);
      }
    }
    const seen = new Set<string>();
    for (const g of gauges) {
      if (!seen.has(g.name)) {
        lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
        seen.add(g.name);
      }
      lines.push(`${g.name}${labelText(g.labels ?? {})} ${g.value}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
