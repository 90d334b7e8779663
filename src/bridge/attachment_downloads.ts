/**
 * The files of one message, downloaded within the bridge's limits: each file
 * at most its announced size (or the upload limit when none is announced),
 * all of them together within the global attachment memory budget.
 *
 * The bytes a message needs are held as one amount before the first download
 * (never piece by piece: two messages each holding half and waiting for the
 * rest would wait forever) and released by the caller once the upload is
 * done or has failed. A file that cannot be held, fetched or allowed becomes
 * its link with the reason; nothing is dropped silently.
 */
import type { AttachmentMemory, DownloadOutcome, Logger, UploadFile } from "./ports.ts";

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The files to upload, and for the rest their link lines in the order the
 * attachments came (`linked` holds the lines decided before downloading).
 */
export function filesAndLinks<A>(
  attachments: readonly A[],
  results: Downloaded<A>[],
  linked: Map<A, string>,
  linkLine: (attachment: A, why: string) => string,
): { files: UploadFile[]; links: string[] } {
  const files: UploadFile[] = [];
  for (const r of results) {
    if ("file" in r) files.push(r.file);
    else linked.set(r.attachment, linkLine(r.attachment, r.why));
  }
  return { files, links: attachments.flatMap((a) => linked.get(a) ?? []) };
}

export type Downloaded<A> = { attachment: A; file: UploadFile } | { attachment: A; why: string };

export interface DownloadPlan<A> {
  /** In the order given: each file, or why it is a link instead (a "not attached (…)" phrase). */
  results: Downloaded<A>[];
  /** Gives the held bytes back; call it once the files are uploaded or given up (idempotent). */
  release: () => void;
}

export async function downloadWithinBudget<A extends { size: number }>(
  input: {
    memory: AttachmentMemory;
    /** The per-file upload limit of the side the files go to. */
    uploadLimit: number;
    log: Logger;
    signal?: AbortSignal;
  },
  attachments: A[],
  /** Downloads one file; `{ why }` (a whole phrase) when it failed for good. Throws to retry. */
  download: (
    attachment: A,
    limits: { maxBytes: number },
  ) => Promise<DownloadOutcome | { why: string }>,
): Promise<DownloadPlan<A>> {
  const { memory, uploadLimit } = input;
  const results: (Downloaded<A> | { attachment: A; maxBytes: number })[] = [];
  let total = 0;
  for (const attachment of attachments) {
    // An announced size is enforced: a server that sends more than it announced is refused.
    const maxBytes = attachment.size > 0
      ? Math.min(attachment.size, uploadLimit)
      : Math.min(uploadLimit, memory.capacity);
    if (maxBytes > memory.capacity) {
      results.push({
        attachment,
        why: `not attached (larger than the ${
          formatBytes(memory.capacity)
        } of files the bridge holds at once)`,
      });
    } else if (total + maxBytes > memory.capacity) {
      results.push({
        attachment,
        why: `not attached (with the files before it, more than the ${
          formatBytes(memory.capacity)
        } the bridge holds at once)`,
      });
    } else {
      total += maxBytes;
      results.push({ attachment, maxBytes });
    }
  }
  if (total === 0) return { results: results as Downloaded<A>[], release: () => {} };
  const release = await memory.hold(total, input.signal);
  if (!release) {
    input.log.warn("attachment memory busy: files sent as links", { bytes: total });
    return {
      results: results.map((r) =>
        "maxBytes" in r
          ? { attachment: r.attachment, why: "not attached (the bridge was too busy to fetch it)" }
          : r
      ),
      release: () => {},
    };
  }
  try {
    const done: Downloaded<A>[] = [];
    for (const r of results) {
      if (!("maxBytes" in r)) {
        done.push(r);
        continue;
      }
      const outcome = await download(r.attachment, { maxBytes: r.maxBytes });
      if ("file" in outcome) {
        done.push({ attachment: r.attachment, file: outcome.file });
      } else if ("why" in outcome && !("refused" in outcome)) {
        done.push({ attachment: r.attachment, why: outcome.why });
      } else if (outcome.refused === "too-large") {
        input.log.warn("attachment larger than allowed: sent as a link", {
          maxBytes: r.maxBytes,
          announced: r.attachment.size,
        });
        done.push({
          attachment: r.attachment,
          why: r.attachment.size > 0 && r.attachment.size < uploadLimit
            ? `not attached (larger than its announced ${formatBytes(r.attachment.size)})`
            : `not attached (over the ${formatBytes(uploadLimit)} upload limit)`,
        });
      } else {
        input.log.warn("attachment not downloaded: not allowed", { reason: outcome.detail });
        done.push({ attachment: r.attachment, why: `not attached (${outcome.why})` });
      }
    }
    return { results: done, release };
  } catch (error) {
    release();
    throw error;
  }
}
