/**
 * A download the bridge makes on someone else's word (a webhook's `data_url`,
 * a gateway event's CDN link): only from allowed origins, over http(s), with
 * redirects followed by hand and checked hop by hop, and bounded in bytes and
 * time. A URL that is not allowed is never fetched.
 *
 * The body is streamed into memory with a hard cap: the first byte past
 * `maxBytes` stops the transfer (the connection is dropped, so the sender
 * cannot push more than what is already in flight).
 */
import type { DownloadOutcome, UploadFile } from "../bridge/ports.ts";

export interface DownloadLimits {
  /** Origins (`URL.origin`, e.g. `https://files.example.com`) a download and its redirects may use. */
  allowedOrigins: readonly string[];
  /** The most body bytes accepted; one more and the download stops. */
  maxBytes: number;
  /** Time for the whole download, redirects included. */
  timeoutMs: number;
  /** Redirects followed at most (default 3). */
  maxRedirects?: number;
  fetch?: typeof fetch;
}

/** Why a download was not made or not finished (a policy, not an outage: retrying cannot help). */
export type RefusalCode = "scheme" | "origin" | "redirects" | "too-large";

export type DownloadResult =
  | { kind: "file"; bytes: Uint8Array<ArrayBuffer>; contentType: string | null }
  /** `detail` names the offending origin or size, for logs. */
  | { kind: "refused"; code: RefusalCode; detail: string }
  /** The server answered with this error status (its body was discarded). */
  | { kind: "status"; status: number };

/** No usable answer: refused, reset or timed out. Worth retrying later. */
export class DownloadNetworkError extends Error {
  override name = "DownloadNetworkError";
}

/** What a download may take: 10 s plus one second per MiB (a slow but honest link keeps up). */
export function downloadTimeoutMs(bytes: number): number {
  return 10_000 + Math.ceil(bytes / (1024 * 1024)) * 1_000;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Undefined when `url` may be fetched, else why not. */
function refusalFor(
  url: URL,
  allowedOrigins: readonly string[],
): DownloadResult | undefined {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { kind: "refused", code: "scheme", detail: `${url.protocol} URLs are not fetched` };
  }
  if (!allowedOrigins.includes(url.origin)) {
    return { kind: "refused", code: "origin", detail: `${url.origin} is not an allowed origin` };
  }
  return undefined;
}

export async function boundedDownload(
  url: string,
  limits: DownloadLimits,
): Promise<DownloadResult> {
  const doFetch = limits.fetch ?? fetch;
  const maxRedirects = limits.maxRedirects ?? 3;
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    return { kind: "refused", code: "scheme", detail: "not a URL" };
  }
  for (let hop = 0;; hop++) {
    const refused = refusalFor(current, limits.allowedOrigins);
    if (refused) return refused;
    let res: Response;
    try {
      res = await doFetch(current, { redirect: "manual", signal: deadline });
    } catch (error) {
      throw networkError(error, current, limits.timeoutMs);
    }
    if (REDIRECTS.has(res.status)) {
      await res.body?.cancel();
      const location = res.headers.get("location");
      if (!location) return { kind: "status", status: res.status };
      if (hop >= maxRedirects) {
        return {
          kind: "refused",
          code: "redirects",
          detail: `more than ${maxRedirects} redirects`,
        };
      }
      try {
        current = new URL(location, current);
      } catch {
        return { kind: "refused", code: "scheme", detail: "redirect to something not a URL" };
      }
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      return { kind: "status", status: res.status };
    }
    const announced = Number(res.headers.get("content-length") ?? NaN);
    if (announced > limits.maxBytes) {
      await res.body?.cancel();
      return {
        kind: "refused",
        code: "too-large",
        detail: `Content-Length ${announced} is over ${limits.maxBytes} bytes`,
      };
    }
    // A compressed body is announced by its compressed length; fetch hands over more.
    const encoded = (res.headers.get("content-encoding") ?? "identity") !== "identity";
    const exactLength = encoded ? NaN : announced;
    const body = await readCapped(res, limits.maxBytes, exactLength, current, limits.timeoutMs);
    if (!body) {
      return {
        kind: "refused",
        code: "too-large",
        detail: `the body went past ${limits.maxBytes} bytes`,
      };
    }
    return { kind: "file", bytes: body, contentType: res.headers.get("content-type") };
  }
}

/** The body, or undefined as soon as it passes `maxBytes` (the rest is never read). */
async function readCapped(
  res: Response,
  maxBytes: number,
  announced: number,
  url: URL,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  // With an honest Content-Length the bytes go straight into one buffer of that size.
  const exact = Number.isSafeInteger(announced) && announced >= 0
    ? new Uint8Array(announced)
    : null;
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes || (exact && total > exact.byteLength)) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      if (exact) exact.set(value, total - value.byteLength);
      else chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw networkError(error, url, timeoutMs);
  }
  if (exact) return total === exact.byteLength ? exact : exact.slice(0, total);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks.splice(0)) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function networkError(error: unknown, url: URL, timeoutMs: number): DownloadNetworkError {
  const timedOut = error instanceof DOMException &&
    (error.name === "TimeoutError" || error.name === "AbortError");
  // Only the origin: a signed download URL's query is a credential of sorts.
  return new DownloadNetworkError(
    timedOut
      ? `no complete answer from ${url.origin} within ${timeoutMs} ms`
      : `cannot download from ${url.origin} (${withoutUrls(error)})`,
  );
}

/** An error message with every URL in it cut to its origin. */
function withoutUrls(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\bhttps?:\/\/[^\s)]+/g, (u) => {
    try {
      return new URL(u).origin;
    } catch {
      return "<url>";
    }
  }).slice(0, 200);
}

const WHY: Record<Exclude<RefusalCode, "too-large">, string> = {
  scheme: "not an http(s) link",
  origin: "not from an address the bridge downloads from",
  redirects: "too many redirects",
};

/** The port's answer for a refused download (a file, or a status error, is the caller's). */
export function refusedOutcome(
  result: Extract<DownloadResult, { kind: "refused" }>,
): Exclude<DownloadOutcome, { file: UploadFile }> {
  return result.code === "too-large"
    ? { refused: "too-large" }
    : { refused: "not-allowed", why: WHY[result.code], detail: result.detail };
}
