/** Files crossing the bridge: what is uploaded, and what a bounded download gives. */

/** A file to upload with a message. */
export interface UploadFile {
  name: string;
  contentType: string;
  bytes: Uint8Array<ArrayBuffer>;
}

/**
 * A download's result: the file, or why it was not fetched or not finished:
 * more than `maxBytes` (announced or streamed), or `why` it is not allowed (an
 * origin or scheme the bridge does not fetch from, too many redirects). A
 * refused file is sent as its link with the reason.
 */
export type DownloadOutcome =
  | { file: UploadFile }
  | { refused: "too-large" }
  /** `detail` is for the log: the origin refused, e.g. a storage host to allow. */
  | { refused: "not-allowed"; why: string; detail: string };
