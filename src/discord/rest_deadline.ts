/**
 * A deadline for every Discord REST request.
 *
 * Discordeno v21 calls `fetch` without a signal, so a request Discord (or a
 * proxy in between) accepts and never answers waits forever — and with it the
 * mailbox that sent it, and Discordeno's queue for that route. This hooks the
 * two places of the REST manager every request goes through:
 *
 * - `makeRequest` (behind every helper, queued or proxied) starts the
 *   deadline and rejects with a DiscordTimeout when it passes, whatever
 *   Discordeno is waiting on then (the connection, the answer's body, a
 *   rate-limit pause, a queue that never resolves a failed body read);
 * - `createRequestBody` (the options Discordeno hands to `fetch`) adds the
 *   deadline's signal, so the abandoned request is aborted too: its
 *   connection is closed and the route's queue moves on. A request still
 *   waiting in the queue when its deadline passes is never sent;
 * - `sendRequest` (one attempt on the wire, in queue mode): a request that
 *   got no answer gives its route's queue slot back, which Discordeno does
 *   only when an answer comes.
 *
 * toDiscordError turns the DiscordTimeout into DiscordError status 0, the
 * outage every caller already handles.
 */
import type { RestManager } from "@discordeno/bot";
import { DiscordTimeout } from "./errors.ts";

/** A JSON request (no files) gets this long for its whole answer. */
const DISCORD_REQUEST_TIMEOUT_MS = 15_000;

/** The deadline for a request uploading `bytes` of files: one second more per MiB. */
export function discordRequestTimeoutMs(
  bytes: number,
  baseMs = DISCORD_REQUEST_TIMEOUT_MS,
): number {
  return baseMs + Math.ceil(bytes / (1024 * 1024)) * 1_000;
}

type RequestMethod = Parameters<RestManager["makeRequest"]>[0];
type RequestOptions = Parameters<RestManager["makeRequest"]>[2];

/** Installs the deadline on `rest` (once). `baseMs` is the JSON deadline; tests shrink it. */
export function limitRequestTime(rest: RestManager, baseMs = DISCORD_REQUEST_TIMEOUT_MS): void {
  if (limited.has(rest)) return;
  limited.add(rest);
  /** The signal of each request in flight, keyed by its options object (ours, made per request). */
  const signals = new WeakMap<object, AbortSignal>();
  const makeRequest = rest.makeRequest;
  const createRequestBody = rest.createRequestBody;

  rest.makeRequest = async <T>(method: RequestMethod, route: string, options?: RequestOptions) => {
    const timeoutMs = discordRequestTimeoutMs(uploadBytes(options), baseMs);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DiscordTimeout(timeoutMs)), timeoutMs);
    const own: NonNullable<RequestOptions> = { ...options };
    signals.set(own, deadline.signal);
    const expired = new Promise<never>((_, reject) =>
      deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason), {
        once: true,
      })
    );
    try {
      return await Promise.race([
        makeRequest.call(rest, method, route, own) as Promise<T>,
        expired,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  // A route's queue spends a slot per request and gets it back from the answer's rate-limit
  // headers; a request that got no answer (timed out, refused, reset) would leave a new
  // route's queue without a slot for good. It is given back here the way an answer without
  // rate-limit headers gives it back.
  const sendRequest = rest.sendRequest;
  rest.sendRequest = async (request) => {
    try {
      await sendRequest.call(rest, request);
    } catch (error) {
      rest.processHeaders(
        rest.simplifyUrl(request.route, request.method),
        new Headers(),
        request.requestBodyOptions?.headers?.authorization ?? `Bot ${rest.token}`,
      );
      throw error;
    }
  };

  rest.createRequestBody = (method, options) => {
    const payload = createRequestBody.call(rest, method, options);
    const signal = options && signals.get(options);
    // `fetch(url, payload)`: Discordeno passes this object to fetch as its init.
    return signal ? Object.assign(payload, { signal }) : payload;
  };
}

const limited = new WeakSet<object>();

/** Bytes of the files a request uploads (the JSON part is small). */
function uploadBytes(options: RequestOptions): number {
  return options?.files?.reduce((sum, file) => sum + file.blob.size, 0) ?? 0;
}
