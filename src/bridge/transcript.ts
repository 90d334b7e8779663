/**
 * TRANSCRIPT_ON_RESOLVE: the "ticket resolved" notice carries a text file of
 * the conversation's public messages, each with its time (UTC) and its
 * author's display name: the user's, an agent's available name (never an
 * email), a bot's name, or the brand name for the inbox's own messages.
 * Private notes, activity messages and the CSAT survey are left out.
 *
 * Bounded: at most MAX_PAGES reads of 100 messages and MAX_BYTES of text;
 * a longer conversation's transcript says how much was left out.
 */
import { mailboxSeqAt } from "./intake.ts";
import { notice } from "./notices.ts";
import type { ChatwootMessage, ChatwootPort, MailboxPort, UploadFile } from "./ports.ts";

/** Chatwoot's page after `after=` (MessageFinder): a shorter page is the last one. */
const PAGE_SIZE = 100;
/** 1,000 messages, 10 API calls at most. */
const MAX_PAGES = 10;
/** Discord takes far more; a transcript this long is already hard to read. */
const MAX_BYTES = 1024 * 1024;

const encoder = new TextEncoder();

export async function buildTranscript(
  deps: { chatwoot: ChatwootPort; brandName: string },
  conversationId: number,
): Promise<UploadFile> {
  const lines: string[] = [];
  let bytes = 0;
  let after = 0;
  let complete = false;
  let omitted = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const messages = await deps.chatwoot.listMessagesAfter(conversationId, after);
    if (!messages.length) {
      complete = true;
      break;
    }
    after = messages[messages.length - 1].id;
    for (const m of messages.filter(isPublic)) {
      const entry = renderMessage(m, deps.brandName);
      const size = encoder.encode(entry).byteLength + 1;
      if (bytes + size > MAX_BYTES) {
        omitted++;
        continue;
      }
      lines.push(entry);
      bytes += size;
    }
    if (messages.length < PAGE_SIZE) {
      complete = true;
      break;
    }
  }
  const header = [
    `Ticket #${conversationId} — ${deps.brandName}`,
    "Transcript of the public messages; times in UTC.",
    "",
  ];
  const footer = [
    ...(omitted
      ? [
        "",
        `(${omitted} later messages left out: the transcript is limited to ${
          MAX_BYTES / 1024 / 1024
        } MiB)`,
      ]
      : []),
    ...(complete ? [] : [
      "",
      `(Later messages are not included: the transcript is limited to ${
        (MAX_PAGES * PAGE_SIZE).toLocaleString("en")
      } messages.)`,
    ]),
  ];
  return {
    name: `ticket-${conversationId}-transcript.txt`,
    contentType: "text/plain; charset=utf-8",
    bytes: encoder.encode([...header, ...lines, ...footer].join("\n") + "\n"),
  };
}

/** What the user and the agents both saw in the conversation. */
function isPublic(m: ChatwootMessage): boolean {
  if (m.private) return false;
  if (
    m.messageType !== "incoming" && m.messageType !== "outgoing" && m.messageType !== "template"
  ) {
    return false;
  }
  return m.contentType !== "input_csat";
}

function renderMessage(m: ChatwootMessage, brandName: string): string {
  const when = new Date(m.createdAt * 1000).toISOString().slice(0, 16).replace("T", " ");
  const author = m.messageType === "template" ? brandName : m.senderName?.trim() || (
    m.messageType === "incoming" ? "You" : brandName
  );
  const body = [
    m.content.trim(),
    ...(m.fileNames ?? []).map((name) => `[file: ${name}]`),
  ].filter(Boolean).join("\n").replace(/\n/g, "\n    ");
  return `[${when}] ${author}: ${body}`;
}

/**
 * A user closed their ticket themselves (`/close`, the check-in's "It's
 * solved"): no "resolved" notice follows, so the transcript comes in a notice
 * of its own.
 */
export async function sendTranscriptAfterClose(
  deps: { mailbox: MailboxPort },
  userId: string,
  conversationId: number,
): Promise<void> {
  const now = Date.now();
  const item = notice(
    userId,
    `transcript:${conversationId}:${now}`,
    {
      tone: "success",
      title: `Ticket #${conversationId} closed`,
      description: "Here is a transcript of our conversation.",
    },
    { transcript: { conversationId } },
  );
  await deps.mailbox.append({
    dir: "out",
    userId,
    items: [{ seq: mailboxSeqAt("out", now), item }],
    dedupe: { kind: "notice", id: item.noticeId },
  });
}
