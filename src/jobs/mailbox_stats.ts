/**
 * Mailbox counts for /healthz and /metrics, answered in constant time.
 *
 * Counting means listing keys (dead letters expire on their own, so a
 * counter kept beside them would drift), which takes ~600 ms with 100,000
 * dead letters. So the counts are computed in the background, one scan at a
 * time and at most a tenth of the time, and a request waits for a fresh
 * count only briefly: past that it gets the last one, with its age.
 */
import type { OutageService } from "../bridge/errors.ts";
import { keys } from "../store/keys.ts";

export interface MailboxStats {
  /** Items waiting in mailboxes. */
  depth: number;
  oldestAgeMs: number;
  /** Mailboxes waiting to retry (any cause). */
  retrying: number;
  /** Mailboxes waiting on an outage, by service. */
  waitingOn: Partial<Record<OutageService, number>>;
  dead: number;
  oldestDeadAgeMs: number;
  /** When these counts were taken (epoch ms). */
  countedAt: number;
}

/** How long a request waits for a fresh count before it takes the last one. */
const FRESH_WAIT_MS = 50;

export class MailboxStatsCache {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  #last: MailboxStats | undefined;
  #stale = true;
  #running: Promise<MailboxStats> | undefined;
  #nextScanAt = 0;

  constructor(kv: Deno.Kv, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /** Something moved: the next request starts a new count (when the duty cycle allows). */
  invalidate(): void {
    this.#stale = true;
  }

  async get(): Promise<MailboxStats> {
    const last = this.#last;
    if (last && !this.#stale) return last;
    const scan = this.#running ?? (this.#now() >= this.#nextScanAt ? this.#scan() : undefined);
    if (!last) return await (scan ?? this.#scan());
    if (!scan) return last;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<MailboxStats>((r) =>
      timer = setTimeout(() => r(last), FRESH_WAIT_MS)
    );
    try {
      return await Promise.race([scan, waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  #scan(): Promise<MailboxStats> {
    this.#stale = false;
    const started = this.#now();
    const run = this.#count().then((stats) => {
      this.#last = stats;
      // At most a tenth of the time goes to counting.
      this.#nextScanAt = this.#now() + (this.#now() - started) * 9;
      return stats;
    }).finally(() => this.#running = undefined);
    this.#running = run;
    return run;
  }

  async #count(): Promise<MailboxStats> {
    const now = this.#now();
    let depth = 0;
    let oldest = now;
    for await (const e of this.#kv.list<{ appendedAt: number }>({ prefix: keys.allMailboxes() })) {
      depth++;
      oldest = Math.min(oldest, e.value.appendedAt);
    }
    let retrying = 0;
    const waitingOn: MailboxStats["waitingOn"] = {};
    for await (
      const e of this.#kv.list<{ waitingOn?: OutageService }>({ prefix: keys.allRetries() })
    ) {
      retrying++;
      if (e.value.waitingOn) waitingOn[e.value.waitingOn] = (waitingOn[e.value.waitingOn] ?? 0) + 1;
    }
    let dead = 0;
    let oldestDead = now;
    for await (
      const e of this.#kv.list<{ failedAt: number; expiresAt?: number }>({
        prefix: keys.allDead(),
      })
    ) {
      if (e.value.expiresAt !== undefined && e.value.expiresAt <= now) continue;
      dead++;
      oldestDead = Math.min(oldestDead, e.value.failedAt);
    }
    return {
      depth,
      oldestAgeMs: depth ? now - oldest : 0,
      retrying,
      waitingOn,
      dead,
      oldestDeadAgeMs: dead ? now - oldestDead : 0,
      countedAt: now,
    };
  }
}
