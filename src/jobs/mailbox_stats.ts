/**
 * Mailbox counts for /healthz and /metrics, answered in constant time.
 *
 * Counting means listing keys (dead letters expire on their own, so a
 * counter kept beside them would drift), which takes ~600 ms with 100,000
 * dead letters. So the counts are computed in the background, one scan at a
 * time and at most a tenth of the time, and a request waits for a fresh
 * count only briefly: past that it gets the last one, with its age. A count
 * is redone when something moved in this process, and at least every
 * RECOUNT_MS for what moved elsewhere (another instance, the dead-letters
 * command, expiry). Ages are kept as times and reported as of the request.
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
/** Counts are redone at least this often (changes made by other processes). */
const RECOUNT_MS = 5_000;

/** A count as taken: the oldest item and dead letter as times, not ages. */
interface Count extends Omit<MailboxStats, "oldestAgeMs" | "oldestDeadAgeMs"> {
  oldestAt: number | undefined;
  oldestDeadAt: number | undefined;
}

export class MailboxStatsCache {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  #last: Count | undefined;
  #stale = true;
  #running: Promise<Count> | undefined;
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
    return this.#asOfNow(await this.#latest());
  }

  async #latest(): Promise<Count> {
    const last = this.#last;
    const fresh = last && !this.#stale && this.#now() - last.countedAt < RECOUNT_MS;
    if (last && fresh) return last;
    const scan = this.#running ?? (this.#now() >= this.#nextScanAt ? this.#scan() : undefined);
    if (!last) return await (scan ?? this.#scan());
    if (!scan) return last;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<Count>((r) => timer = setTimeout(() => r(last), FRESH_WAIT_MS));
    try {
      return await Promise.race([scan, waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  #asOfNow(count: Count): MailboxStats {
    const now = this.#now();
    const { oldestAt, oldestDeadAt, ...rest } = count;
    return {
      ...rest,
      oldestAgeMs: oldestAt === undefined ? 0 : now - oldestAt,
      oldestDeadAgeMs: oldestDeadAt === undefined ? 0 : now - oldestDeadAt,
    };
  }

  #scan(): Promise<Count> {
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

  async #count(): Promise<Count> {
    const now = this.#now();
    let retrying = 0;
    const waitingOn: MailboxStats["waitingOn"] = {};
    /** Mailboxes whose head waits for the user: their items are not late. */
    const waitingForUser = new Set<string>();
    for await (
      const e of this.#kv.list<{ waitingOn?: OutageService; waitingForUser?: true }>({
        prefix: keys.allRetries(),
      })
    ) {
      if (e.value.waitingForUser) {
        waitingForUser.add(`${String(e.key[1])}/${String(e.key[2])}`);
        continue;
      }
      retrying++;
      if (e.value.waitingOn) waitingOn[e.value.waitingOn] = (waitingOn[e.value.waitingOn] ?? 0) + 1;
    }
    let depth = 0;
    let oldest: number | undefined;
    for await (const e of this.#kv.list<{ appendedAt: number }>({ prefix: keys.allMailboxes() })) {
      depth++;
      if (waitingForUser.has(`${String(e.key[1])}/${String(e.key[2])}`)) continue;
      oldest = Math.min(oldest ?? now, e.value.appendedAt);
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
      oldestAt: oldest,
      retrying,
      waitingOn,
      dead,
      oldestDeadAt: dead ? oldestDead : undefined,
      countedAt: now,
    };
  }
}
