/**
 * The one way the Chatwoot adapter talks to Chatwoot's JSON APIs: a request
 * bounded in time and size, its answer parsed by a zod schema, every failure
 * a `ChatwootError` that says how the exchange went.
 *
 * Contract: the whole exchange (body included) ends within `timeoutMs`; an
 * answer over the capped size is no answer; the access token travels only in
 * the `api_access_token` header of Account API calls (never to the public
 * API, never in an error); a 429 carries its Retry-After.
 */
import { z } from "zod";
import { ServiceError } from "../bridge/errors.ts";
import { AnswerTooLarge, readCappedText } from "../net/capped_answer.ts";

/**
 * How a failed exchange went, for a caller that explains it to an operator
 * (check-config tells "no answer" from "an answer that is not Chatwoot's").
 * `json` is the answer's body when it is JSON of at most 4 KiB (an error
 * body), else undefined; `contentType` is its media type, "" when absent.
 */
export type ChatwootFault =
  | { answered: false; timedOut: boolean; cause: unknown }
  | { answered: true; contentType: string; json: unknown };

export class ChatwootError extends ServiceError {
  readonly service = "chatwoot" as const;
  constructor(
    readonly status: number,
    /** The response body, cut to 500 characters; empty when no response came. */
    readonly body: string,
    what: string,
    /** Set by every API call (not by attachment downloads). */
    readonly fault?: ChatwootFault,
  ) {
    super(
      status === 0
        ? `Chatwoot ${what} failed: ${body}`
        : `Chatwoot ${what} failed with HTTP ${status}: ${body.slice(0, 200)}`,
    );
    this.name = "ChatwootError";
  }
}

export interface ApiCallOptions {
  baseUrl: string;
  accountId: number;
  apiToken: string;
  fetch?: typeof fetch;
  /** Per-request limit; a stalled Chatwoot must not hold a mailbox forever. */
  timeoutMs?: number;
}

/**
 * One call: `path` under the account's API (`/api/v1/accounts/<id>`), or
 * under `base` when given (the public API: no token sent). `body` goes as
 * JSON, or as multipart when it is FormData.
 */
export type ApiCall = <T>(
  what: string,
  method: string,
  path: string,
  schema: z.ZodType<T>,
  body?: unknown,
  base?: string,
) => Promise<T>;

/** An error body worth keeping for the operator: JSON, and small. */
function smallJson(text: string): unknown {
  if (text === "" || text.length > 4096) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function createApiCall(options: ApiCallOptions): ApiCall {
  const doFetch = options.fetch ?? fetch;
  const accountBase = `${options.baseUrl}/api/v1/accounts/${options.accountId}`;
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function call<T>(
    what: string,
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body?: unknown,
    base = accountBase,
  ): Promise<T> {
    let response: Response;
    let text: string;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: {
          ...(base === accountBase ? { "api_access_token": options.apiToken } : {}),
          "accept": "application/json",
          ...(body === undefined || body instanceof FormData
            ? {}
            : { "content-type": "application/json" }),
        },
        body: body === undefined
          ? undefined
          : body instanceof FormData
          ? body
          : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      // The signal bounds the whole exchange: a body that stalls is no answer either;
      // one that goes on past 4 MiB is not Chatwoot's, and is not read further.
      text = await readCappedText(response);
    } catch (error) {
      const timedOut = error instanceof DOMException &&
        (error.name === "TimeoutError" || error.name === "AbortError");
      const reason = error instanceof DOMException && error.name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : error instanceof AnswerTooLarge
        ? `no usable answer from ${options.baseUrl}: ${error.message}`
        : `cannot reach ${options.baseUrl} (${error instanceof Error ? error.message : error})`;
      throw new ChatwootError(0, reason, what, { answered: false, timedOut, cause: error });
    }
    const fault: ChatwootFault = {
      answered: true,
      contentType: (response.headers.get("content-type") ?? "").split(";")[0].trim(),
      json: smallJson(text),
    };
    if (!response.ok) {
      const error = new ChatwootError(response.status, text.slice(0, 500), what, fault);
      if (response.status === 429) {
        error.retryAfterMs = retryAfterMs(response.headers.get("retry-after"), Date.now());
      }
      throw error;
    }
    let json: unknown;
    try {
      json = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new ChatwootError(
        response.status,
        `response is not JSON: ${text.slice(0, 100)}`,
        what,
        fault,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ChatwootError(
        response.status,
        `unexpected response shape: ${z.prettifyError(parsed.error).slice(0, 300)}`,
        what,
        fault,
      );
    }
    return parsed.data;
  }

  return call;
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable (capped at an hour). */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header.trim());
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 3600_000) : undefined;
}
