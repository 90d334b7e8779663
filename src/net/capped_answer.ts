/**
 * API answers read with a byte cap. `Response.text()` and `.json()` take
 * whatever the server sends: one that streams JSON forever drives memory up
 * until a timeout ends it (hundreds of MiB in seconds on a fast link). These
 * read the body as it streams and stop at the first byte past `maxBytes`,
 * cancelling the rest (a `Content-Length` over the cap stops it before
 * reading). Timeouts stay the caller's (its fetch signal ends the read too).
 */

/** Far above any JSON answer the bridge reads from Chatwoot, Discord or a plugin. */
export const API_ANSWER_MAX_BYTES = 4 * 1024 * 1024;

/** The answer went past its cap; nothing more of it was read. */
export class AnswerTooLarge extends Error {
  override name = "AnswerTooLarge";
  constructor(readonly maxBytes: number) {
    super(`the answer is larger than ${formatMiB(maxBytes)}`);
  }
}

async function readCappedBytes(
  res: Response,
  maxBytes = API_ANSWER_MAX_BYTES,
): Promise<Uint8Array<ArrayBuffer>> {
  const announced = Number(res.headers.get("content-length") ?? NaN);
  if (announced > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new AnswerTooLarge(maxBytes);
  }
  if (!res.body) return new Uint8Array(0);
  // A plain body of an announced length within the cap is exactly that long: read it at once
  // (a compressed one may unpack to far more, so it is streamed and counted below).
  if (Number.isFinite(announced) && !res.headers.get("content-encoding")) {
    return new Uint8Array(await res.arrayBuffer());
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new AnswerTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** The answer as text, as `res.text()` would give it, within `maxBytes`. */
export async function readCappedText(
  res: Response,
  maxBytes = API_ANSWER_MAX_BYTES,
): Promise<string> {
  return new TextDecoder().decode(await readCappedBytes(res, maxBytes));
}

/** The answer parsed as JSON, within `maxBytes` (a SyntaxError when it is not JSON). */
export async function readCappedJson(
  res: Response,
  maxBytes = API_ANSWER_MAX_BYTES,
): Promise<unknown> {
  return JSON.parse(await readCappedText(res, maxBytes));
}

function formatMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB` : `${bytes} bytes`;
}
