/**
 * Request bodies read within bounds: at most `maxBytes`, within `deadlineMs`
 * from the first byte asked for, never slower than `minBytesPerSecond` once
 * `rateGraceMs` have passed, and a bounded number of bodies at once (slots
 * from admission.ts):
 *
 * - `maxInFlight` slots for every address, at most `maxInFlightPerAddress`
 *   of them held by one unproven address; its further bodies wait their turn
 *   (up to `deadlineMs`, unread), so a burst from one address is served in
 *   turn rather than refused;
 * - `reservedForProven` more for addresses that delivered a correctly signed
 *   request lately (proven_senders.ts), which also wait their turn when every
 *   slot is taken: Chatwoot's bursts get in even while strangers hold every
 *   shared slot.
 *
 * What does not fit is answered without being buffered: 413 (too large,
 * decided from Content-Length when it is sent), 408 (too slow: past the
 * deadline or under the minimum rate), 503 with Retry-After (no slot: at once
 * for an unproven address when every shared slot is taken, else after the
 * wait).
 *
 * So clients that send part of a body and stall hold at most
 * `(maxInFlight + reservedForProven) × maxBytes` bytes, for at most
 * `deadlineMs`; one that trickles is cut after `rateGraceMs`.
 */
import { type Admission, createAdmission } from "./admission.ts";
import { createProvenSenders, type ProvenSenders } from "./proven_senders.ts";

export interface BodyLimits {
  maxBytes: number;
  deadlineMs: number;
  /** Bodies read at once, for any address. */
  maxInFlight: number;
  /** Bodies read at once on top of `maxInFlight`, for proven addresses only. */
  reservedForProven: number;
  /** Bodies one unproven address may have in flight. */
  maxInFlightPerAddress: number;
  /** Once `rateGraceMs` have passed, a body must have arrived at least this fast. */
  minBytesPerSecond: number;
  rateGraceMs: number;
  /** Seconds a client is asked to wait after a 503. */
  retryAfterSeconds: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = {
  maxBytes: 1024 * 1024,
  deadlineMs: 10_000,
  maxInFlight: 32,
  reservedForProven: 16,
  maxInFlightPerAddress: 8,
  minBytesPerSecond: 16 * 1024,
  rateGraceMs: 2_000,
  retryAfterSeconds: 5,
};

export type BodyRead =
  | { ok: true; text: string }
  | { ok: false; status: 408 | 413 | 503; error: string; headers: Record<string, string> };

export interface BodyReader {
  /** Reads the body of a request from `address` (the client's IP address). */
  read(request: Request, address: string): Promise<BodyRead>;
  /** Bodies being read right now. */
  readonly inFlight: number;
}

export function createBodyReader(
  limits: BodyLimits = DEFAULT_BODY_LIMITS,
  senders: ProvenSenders = createProvenSenders(),
): BodyReader {
  const slots: Admission = createAdmission({
    shared: limits.maxInFlight,
    reserved: limits.reservedForProven,
    perUnprovenAddress: limits.maxInFlightPerAddress,
  }, senders);
  // A refused body is left unread: the connection cannot carry another request, so it is closed.
  const refuse = (status: 408 | 413 | 503, error: string, extra: Record<string, string> = {}) => ({
    ok: false as const,
    status,
    error,
    headers: { connection: "close", ...extra },
  });
  return {
    get inFlight() {
      return slots.inUse;
    },
    async read(request, address) {
      const announced = Number(request.headers.get("content-length") ?? NaN);
      if (announced > limits.maxBytes) return refuse(413, "payload too large");
      if (!request.body) return { ok: true, text: "" };
      // A client that goes away stops waiting (its request's signal aborts).
      const slot = await slots.takeOrWait(address, limits.deadlineMs, request.signal);
      if (!slot) {
        return refuse(503, "busy, try again later", {
          "retry-after": String(limits.retryAfterSeconds),
        });
      }
      const reader = request.body.getReader();
      const started = performance.now();
      let total = 0;
      let cut: string | undefined;
      const stop = (why: string) => {
        cut = why;
        reader.cancel().catch(() => {});
      };
      const deadline = setTimeout(() => stop("request body too slow"), limits.deadlineMs);
      // `total` bytes may take rateGraceMs plus the time they take at minBytesPerSecond.
      let pace: ReturnType<typeof setTimeout>;
      const checkPace = () => {
        const dueAt = started + limits.rateGraceMs + total / limits.minBytesPerSecond * 1000;
        const wait = dueAt - performance.now();
        if (wait <= 0) stop("request body arriving too slowly");
        else pace = setTimeout(checkPace, wait);
      };
      pace = setTimeout(checkPace, limits.rateGraceMs);
      const chunks: Uint8Array[] = [];
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
        // The client went away mid-body, or a bound cancelled the read.
        if (!cut) return refuse(408, "request body incomplete");
      } finally {
        clearTimeout(deadline);
        clearTimeout(pace);
        slot.release();
      }
      if (cut) return refuse(408, cut);
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
