/** Chatwoot's message JSON (the messages list), read into the bridge's ChatwootMessage. */
import { z } from "zod";
import type { ChatwootMessage } from "../bridge/ports.ts";
import { readInteractiveContent } from "./interactive_content.ts";

const MESSAGE_TYPES = ["incoming", "outgoing", "activity", "template"];

export const messageSchema = z.object({
  id: z.number(),
  source_id: z.string().nullish(),
  message_type: z.union([z.number(), z.string()]).nullish(),
  private: z.boolean().nullish(),
  content: z.string().nullish(),
  content_type: z.string().nullish(),
  created_at: z.number().nullish(),
  sender: z.object({
    name: z.string().nullish(),
    available_name: z.string().nullish(),
    type: z.string().nullish(),
  }).nullish().catch(null),
  attachments: z.array(z.object({ data_url: z.string().nullish() })).nullish().catch(null),
  content_attributes: z.unknown().optional(),
});

export function readMessage(m: z.infer<typeof messageSchema>): ChatwootMessage {
  const name = m.sender?.available_name || m.sender?.name;
  const files = (m.attachments ?? []).map((a) => fileNameOf(a.data_url ?? ""));
  const interactive = readInteractiveContent(m.content_type ?? "text", m.content_attributes);
  return {
    id: m.id,
    sourceId: m.source_id ?? null,
    messageType: typeof m.message_type === "number"
      ? MESSAGE_TYPES[m.message_type] ?? "unknown"
      : m.message_type ?? "unknown",
    private: m.private ?? false,
    content: m.content ?? "",
    contentType: m.content_type ?? "text",
    createdAt: m.created_at ?? 0,
    ...(name ? { senderName: name } : {}),
    ...(m.sender?.type ? { senderType: m.sender.type } : {}),
    ...(files.length ? { fileNames: files } : {}),
    ...(interactive ? { interactive } : {}),
  };
}

/** `…/blobs/redirect/<signed id>/<file name>` → the file name (`attachment[.ext]` when none). */
export function fileNameOf(dataUrl: string, extension?: string | null): string {
  try {
    const last = decodeURIComponent(new URL(dataUrl).pathname.split("/").pop() ?? "");
    if (last) return last;
  } catch { /* fall through */ }
  return `attachment${extension ? `.${extension}` : ""}`;
}
