/**
 * The one error shape the core understands. Each adapter throws its own
 * subclass (ChatwootError, DiscordError) and classifies it once, here: a
 * network failure, 408, 429 and 5xx are worth retrying; any other 4xx is not.
 */
export abstract class ServiceError extends Error {
  abstract readonly service: "chatwoot" | "discord";
  /** HTTP status; 0 when no response arrived (refused, reset, timed out). */
  abstract readonly status: number;
  /** The service's own error code where it has one (Discord JSON `code`). */
  readonly code?: number;
  /** A 429's Retry-After: how long the service asked to be left alone. */
  retryAfterMs?: number;

  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/**
 * Not a failure: the item waits for the user (a topic to pick) until
 * `untilMs`, or until the user's answer wakes its mailbox. It is held at the
 * head of its mailbox, so what the user sends meanwhile stays behind it.
 */
export class WaitForUser extends Error {
  constructor(readonly untilMs: number, what: string) {
    super(what);
  }
}

/** True when trying again later may succeed: outages, timeouts, rate limits and unknown failures. */
export function isRetryable(error: unknown): boolean {
  return error instanceof ServiceError ? error.retryable : true;
}

/** What a delivery can wait on: a service, or the bridge's own database. */
export type OutageService = ServiceError["service"] | "storage";

/**
 * Why an attempt failed, which decides what happens next:
 * - `outage`: the service or its credentials failed (network, 408, 429, 5xx, a refused token,
 *   a locked database). Nothing is wrong with the item: it waits, without an attempt limit,
 *   and /healthz shows the outage until the service answers again.
 * - `item`: this item failed (400, 404, 422, a refusal for this user, an exception in our own
 *   code). It is retried a bounded number of times, then dead-lettered and its sender told.
 */
export type Failure =
  | {
    cause: "outage";
    service: OutageService;
    reason: string;
    /**
     * A server error, no answer, or Chatwoot's 403: the service may be down, or refuse only
     * this item (Chatwoot answers 403 for a conversation the token's user cannot see). It is
     * the item's when the service answers its health check and other deliveries to it
     * succeed meanwhile. Rate limits, a refused token and a locked database are the service's.
     */
    mayBeItem: boolean;
    /** A 429: not an outage to show or probe; retried after the wait the service asked for. */
    rateLimit?: { retryAfterMs?: number };
  }
  | { cause: "item"; service?: ServiceError["service"]; reason: string };

export function classifyFailure(error: unknown): Failure {
  const reason = describeError(error);
  if (error instanceof ServiceError) {
    if (error.status === 429) {
      return {
        cause: "outage",
        service: error.service,
        reason,
        mayBeItem: false,
        rateLimit: error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs },
      };
    }
    if (error.retryable) {
      return { cause: "outage", service: error.service, reason, mayBeItem: true };
    }
    // A rejected token stops every request, not just this one. Discord's 403s are per user or
    // channel; Chatwoot's are either (the token lost the account, or this conversation only).
    if (error.status === 401) {
      return {
        cause: "outage",
        service: error.service,
        reason: `credentials refused: ${reason}`,
        mayBeItem: false,
      };
    }
    if (error.status === 403 && error.service === "chatwoot") {
      return {
        cause: "outage",
        service: error.service,
        reason: `refused: ${reason}`,
        mayBeItem: true,
      };
    }
    return { cause: "item", service: error.service, reason };
  }
  if (isTransientStorageError(error)) {
    return { cause: "outage", service: "storage", reason, mayBeItem: false };
  }
  return { cause: "item", reason };
}

/** SQLite (the local KV) answers "database is locked" while another process writes. */
export function isTransientStorageError(error: unknown): boolean {
  return error instanceof Error && /database is (locked|busy)|SQLITE_BUSY/i.test(error.message);
}

export function isServiceStatus(
  error: unknown,
  service: ServiceError["service"],
  status: number,
): error is ServiceError {
  return error instanceof ServiceError && error.service === service && error.status === status;
}

/** A short, secret-free description for logs and dead-letter records. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
