/**
 * Notices: what the bridge itself tells a user (ticket status, greeting,
 * out-of-office, CSAT prompt). They travel through the outbound mailbox like
 * agent replies, so they are durable, ordered and sent once.
 */
import { discordTimestamp } from "./working_hours.ts";

export type Tone = "primary" | "success" | "danger" | "warning" | "info";

export interface NoticeEmbed {
  tone: Tone;
  title?: string;
  description: string;
}

export interface NoticeButton {
  customId: string;
  label: string;
  disabled?: boolean;
}

/** A notice waiting in the outbound mailbox. Plain data: it is stored in KV. */
export interface OutboundNotice {
  kind: "notice";
  discordUserId: string;
  /** Stable identity of this notice (dedupe key and Discord nonce source). */
  noticeId: string;
  embed: NoticeEmbed;
  button?: NoticeButton;
  /** Set on a CSAT prompt: the sent message is remembered for this survey. */
  csat?: { uuid: string; conversationId: number };
  receivedAt: number;
}

export function notice(
  discordUserId: string,
  noticeId: string,
  embed: NoticeEmbed,
  extra: Pick<OutboundNotice, "button" | "csat"> = {},
): OutboundNotice {
  return { kind: "notice", discordUserId, noticeId, embed, receivedAt: Date.now(), ...extra };
}

/** A short, stable Discord nonce (at most 25 characters) for any id. */
export function nonceFor(id: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(id)) {
    h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `n${h.toString(36)}`;
}

/** "We are back <t:…:F> (<t:…:R>)", or nothing when the inbox never opens. */
export function backAtLine(nextOpening: number | undefined): string {
  return nextOpening === undefined ? "" : `\n\nWe are back ${discordTimestamp(nextOpening)}.`;
}

/** Renders the Liquid variables Chatwoot's own templates commonly use. */
export function renderTemplate(text: string, vars: { contactName: string; inboxName: string }) {
  const first = vars.contactName.split(/\s+/)[0] ?? "";
  return text.replace(/{{\s*([\w.]+)\s*}}/g, (tag, name: string) => {
    switch (name) {
      case "contact.name":
        return vars.contactName;
      case "contact.first_name":
        return first;
      case "inbox.name":
        return vars.inboxName;
      default:
        return tag;
    }
  });
}
