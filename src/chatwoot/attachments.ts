/**
 * Downloads of agent attachments (Chatwoot's `data_url`) for delivery to
 * Discord.
 *
 * Contract: no credentials travel with a download; it is read only from
 * CHATWOOT_BASE_URL's origin or the allowed storage origins (redirects
 * included), within `maxBytes` and a time that grows with it. A refused file
 * is an outcome, not an error; no answer or an HTTP error is a ChatwootError.
 */
import type { ChatwootPort } from "../bridge/ports.ts";
import {
  boundedDownload,
  DownloadNetworkError,
  type DownloadResult,
  downloadTimeoutMs,
  refusedOutcome,
} from "../net/bounded_download.ts";
import { ChatwootError } from "./api_call.ts";

export interface AttachmentDownloadOptions {
  baseUrl: string;
  /** Origins besides `baseUrl`'s (the storage Chatwoot redirects to). */
  attachmentOrigins?: readonly string[];
  /** Time allowed for a download of this many bytes (default: downloadTimeoutMs). */
  downloadTimeoutMs?: (bytes: number) => number;
  fetch: typeof fetch;
}

export function createAttachmentDownloader(
  options: AttachmentDownloadOptions,
): ChatwootPort["downloadAttachment"] {
  return async (attachment, limits) => {
    // No credentials travel with a download: `data_url` is public, and it may redirect.
    let result: DownloadResult;
    try {
      result = await boundedDownload(attachment.url, {
        allowedOrigins: [new URL(options.baseUrl).origin, ...(options.attachmentOrigins ?? [])],
        maxBytes: limits.maxBytes,
        timeoutMs: (options.downloadTimeoutMs ?? downloadTimeoutMs)(limits.maxBytes),
        fetch: options.fetch,
      });
    } catch (error) {
      if (!(error instanceof DownloadNetworkError)) throw error;
      throw new ChatwootError(0, error.message, `download of ${attachment.name}`);
    }
    if (result.kind === "refused") return refusedOutcome(result);
    if (result.kind === "status") {
      throw new ChatwootError(result.status, "", `download of ${attachment.name}`);
    }
    return {
      file: {
        name: attachment.name,
        contentType: result.contentType ?? attachment.contentType,
        bytes: result.bytes,
      },
    };
  };
}
