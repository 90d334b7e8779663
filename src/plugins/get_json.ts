import { readCappedJson } from "../net/capped_answer.ts";

/**
 * GETs JSON from a user service: undefined for 404 (an unknown user); other failures throw,
 * an answer over 4 MiB too (it is read only that far).
 */
export async function getJson(
  fetchImpl: typeof fetch,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<unknown | undefined> {
  const res = await fetchImpl(url, { headers: { accept: "application/json", ...headers }, signal });
  if (!res.ok) {
    await res.body?.cancel();
    if (res.status === 404) return undefined;
    throw new Error(`lookup answered HTTP ${res.status}`);
  }
  return await readCappedJson(res);
}
