/**
 * Service failures for tests, as the core sees them (ServiceError), and the
 * queue of outcomes a memory port's next calls have.
 */
import { ServiceError } from "../../src/bridge/errors.ts";

/** Chatwoot answered with an HTTP error (status 0: no answer). */
export class ChatwootFailure extends ServiceError {
  readonly service = "chatwoot" as const;
  constructor(readonly status: number, message = `Chatwoot answered HTTP ${status}`) {
    super(message);
  }
}

/** Discord answered with an HTTP error and, usually, its JSON error code. */
export class DiscordFailure extends ServiceError {
  readonly service = "discord" as const;
  constructor(readonly status: number, override readonly code?: number) {
    super(`Discord answered HTTP ${status}${code !== undefined ? ` (code ${code})` : ""}`);
  }
}

/** What the next calls of a method do, one entry per call: throw the error, or (null) answer. */
export class Faults {
  #queued = new Map<string, (Error | null)[]>();
  failNext(method: string, ...errors: (Error | null)[]) {
    this.#queued.set(method, [...(this.#queued.get(method) ?? []), ...errors]);
  }
  outcome(method: string): Promise<void> {
    const error = this.#queued.get(method)?.shift();
    return error ? Promise.reject(error) : Promise.resolve();
  }
}
