/**
 * Request bodies read within bounds: at most `maxBytes`, within `deadlineMs`
 * from the first byte asked for, and at most `maxInFlight` bodies being read
 * at once across the server. What does not fit is answered at once and never
 * buffered: 413 (too large, decided from Content-Length when it is sent), 408
 * (too slow), 503 with Retry-After (too many at once, decided before reading).
 *
 * So a crowd of clients that send part of a body and stall holds at most
 * `maxInFlight × maxBytes` bytes, for at most `deadlineMs`.
 */

export interface BodyLimits {
  maxBytes: number;
  deadlineMs: number;
  maxInFlight: number;
  /** Seconds a client is asked to wait after a 503. */
  retryAfterSeconds: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = {
  maxBytes: 1024 * 1024,
  deadlineMs: 10_000,
  maxInFlight: 32,
  retryAfterSeconds: 5,
};

export type BodyRead =
  | { ok: true; text: string }
  | { ok: false; status: 408 | 413 | 503; error: string; headers: Record<string, string> };

export interface BodyReader {
  read(request: Request): Promise<BodyRead>;
  /** Bodies being read right now. */
  readonly inFlight: number;
}

export function createBodyReader(limits: BodyLimits = DEFAULT_BODY_LIMITS): BodyReader {
  let inFlight = 0;
  // A refused body is left unread: the connection cannot carry another request, so it is closed.
  const refuse = (status: 408 | 413 | 503, error: string, extra: Record<string, string> = {}) => ({
    ok: false as const,
    status,
    error,
    headers: { connection: "close", ...extra },
  });
  return {
    get inFlight() {
      return inFlight;
    },
    async read(request) {
      if (inFlight >= limits.maxInFlight) {
        return refuse(503, "busy, try again later", {
          "retry-after": String(limits.retryAfterSeconds),
        });
      }
      const announced = Number(request.headers.get("content-length") ?? NaN);
      if (announced > limits.maxBytes) return refuse(413, "payload too large");
      if (!request.body) return { ok: true, text: "" };
      inFlight++;
      const reader = request.body.getReader();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reader.cancel().catch(() => {});
      }, limits.deadlineMs);
      const chunks: Uint8Array[] = [];
      let total = 0;
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          total += value.byteLength;
          if (total > limits.maxBytes) {
            await reader.cancel().catch(() => {});
            return refuse(413, "payload too large");
          }
          chunks.push(value);
        }
      } catch {
        // The client went away mid-body, or the deadline cancelled the read.
        if (!timedOut) return refuse(408, "request body incomplete");
      } finally {
        clearTimeout(timer);
        inFlight--;
      }
      if (timedOut) return refuse(408, "request body too slow");
      const bytes = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return { ok: true, text: new TextDecoder().decode(bytes) };
    },
  };
}
