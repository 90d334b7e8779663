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

  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** True when trying again later may succeed: outages, timeouts, rate limits and unknown failures. */
export function isRetryable(error: unknown): boolean {
  return error instanceof ServiceError ? error.retryable : true;
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
