/** Discord failures, as Discordeno reports them, turned into one typed error. */
import { ServiceError } from "../bridge/errors.ts";

export class DiscordError extends ServiceError {
  readonly service = "discord" as const;
  constructor(
    readonly status: number,
    override readonly code: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = "DiscordError";
  }
}

/**
 * A Discord request that got no complete answer within its deadline
 * (rest_deadline.ts). An outage like a refused connection: status 0.
 */
export class DiscordTimeout extends Error {
  override name = "DiscordTimeout";
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${formatSeconds(timeoutMs)}`);
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Discordeno throws `Error("Failed to send request to discord.")` whose
 * `cause` is `{ status, body }` (or `{ status: 999, error }` for a network
 * failure, or a bare TypeError from fetch in proxy mode).
 */
export function toDiscordError(error: unknown, what: string): DiscordError {
  if (error instanceof DiscordError) return error;
  if (error instanceof DiscordTimeout) {
    return new DiscordError(0, undefined, `Discord ${what} failed: ${error.message}`);
  }
  const cause = (error as { cause?: unknown })?.cause as
    | { status?: unknown; body?: unknown; error?: unknown }
    | undefined;
  const status = typeof cause?.status === "number" ? cause.status : 0;
  if (status === 0 || status === 999) {
    const detail = error instanceof Error ? error.message : String(error);
    return new DiscordError(
      0,
      undefined,
      `Discord ${what} failed: cannot reach Discord (${detail})`,
    );
  }
  let code: number | undefined;
  let message = "";
  if (typeof cause?.body === "string") {
    try {
      const body = JSON.parse(cause.body) as { code?: unknown; message?: unknown };
      code = typeof body.code === "number" ? body.code : undefined;
      message = typeof body.message === "string" ? body.message : "";
    } catch {
      message = cause.body.slice(0, 200);
    }
  }
  const codePart = code === undefined ? "" : ` (${code})`;
  return new DiscordError(
    status,
    code,
    `Discord ${what} failed with HTTP ${status}${codePart}${message ? `: ${message}` : ""}`,
  );
}
