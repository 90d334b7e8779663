/**
 * Notices: what the bridge itself tells a user (ticket status, greeting,
 * out-of-office, CSAT prompt). They travel through the outbound mailbox like
 * agent replies, so they are durable, ordered and sent once.
 */
import type { NoticeEmbed, UserNotice } from "./items.ts";
import { discordTimestamp } from "./working_hours.ts";

export function notice(
  discordUserId: string,
  noticeId: string,
  embed: NoticeEmbed,
  extra: Pick<UserNotice, "button" | "csat" | "rows" | "transcript"> = {},
): UserNotice {
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
