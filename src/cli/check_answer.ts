/**
 * What check-config's requests came back with, and how an answer is told to
 * the operator: one clean line, never a raw body (only a service's own short
 * error text, stripped of control characters and cut to 120 characters).
 */
import { z } from "zod";
import { readCappedText } from "../net/capped_answer.ts";
import { shortCause } from "../startup_failure.ts";

export interface Check {
  ok: boolean;
  label: string;
  detail: string;
  fix?: string;
}

/** Error bodies: Discord `{message, code}`, Chatwoot `{error}` or `{errors: [...]}`. */
const errorBodySchema = z.union([
  z.object({ message: z.string(), code: z.number() }).transform((v) => `${v.message} (${v.code})`),
  z.object({ error: z.string() }).transform((v) => v.error),
  z.object({ errors: z.array(z.string()).min(1) }).transform((v) => v.errors.join("; ")),
]);

/** What a request came back with: an answer (any status), or why there was none. */
export type Answer =
  | { reached: true; status: number; contentType: string; json: unknown }
  | { reached: false; cause: string };
export type Get = (url: string, headers: Record<string, string>) => Promise<Answer>;

export function boundedGet(doFetch: typeof fetch, timeoutMs: number): Get {
  return async (url, headers) => {
    try {
      // The signal bounds the whole exchange, body included; the cap its size.
      const res = await doFetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
      const text = await readCappedText(res);
      let json: unknown = undefined;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON: only its status and content type are ever shown
      }
      const contentType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
      return { reached: true, status: res.status, contentType, json };
    } catch (error) {
      const timedOut = error instanceof DOMException &&
        (error.name === "TimeoutError" || error.name === "AbortError");
      return {
        reached: false,
        cause: timedOut ? `no answer within ${duration(timeoutMs)}` : shortCause(error),
      };
    }
  };
}

export function duration(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/** "HTTP 404 (text/html)" or `HTTP 401: "Invalid Access Token"`: never a raw body. */
export function describeAnswer(answer: Answer & { reached: true }): string {
  const error = errorText(answer.json);
  if (error) return `HTTP ${answer.status}: "${error}"`;
  return `HTTP ${answer.status}${
    answer.json === undefined && answer.contentType ? ` (${answer.contentType})` : ""
  }`;
}

export function errorText(json: unknown): string | undefined {
  const parsed = errorBodySchema.safeParse(json);
  if (!parsed.success) return undefined;
  // deno-lint-ignore no-control-regex
  const clean = parsed.data.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return clean.length > 120 ? `${clean.slice(0, 119)}…` : clean;
}
