/**
 * What the use-case tests (tests/use_cases_*_test.ts) share: one Discord user,
 * their DMs and an agent's replies, and each use case's dependencies built
 * from the in-memory ports.
 */
import type { InboundDeps, InboundTexts } from "../../src/bridge/inbound.ts";
import type { InboundDm, OutboundReply, UserNotice } from "../../src/bridge/items.ts";
import type { OutboundDeps } from "../../src/bridge/outbound.ts";
import type { WorkingDay } from "../../src/bridge/working_hours.ts";
import type { MemoryPorts } from "./memory_ports.ts";

export const USER = "111111111111111111";
export const CHANNEL = `dm-${USER}`;
export const FIRST = "1300000000000000001";
export const SECOND = "1300000000000000002";
const MiB = 1024 * 1024;

export const TEXTS: InboundTexts = {
  outsideHoursAccept: true,
  outsideHoursFallbackMessage: "We are closed right now.",
  greetingEnabled: false,
  greetingMessage: "",
  deliveryDelayedMessage: "Your message waits for our help desk.",
};

export function dm(
  messageId: string,
  content = "hello",
  extra: Partial<InboundDm> = {},
): InboundDm {
  return {
    kind: "dm",
    messageId,
    channelId: CHANNEL,
    author: { id: USER, username: "alice", globalName: "Alice Liddell" },
    content,
    receivedAt: Date.now(),
    ...extra,
  };
}

export function dmDeps(
  p: MemoryPorts,
  overrides: Partial<InboundDeps> = {},
): Omit<InboundDeps, "checkpoint"> {
  return {
    chatwoot: p.chatwoot,
    discord: p.discord,
    tickets: p.tickets,
    conversations: p.conversations,
    inbox: p.inbox,
    mailbox: p.mailbox,
    links: p.links,
    maxUploadBytes: 40 * MiB,
    attachmentMemory: p.attachmentMemory,
    inboxId: p.chatwoot.inboxId,
    reopenWindowHours: 0,
    texts: TEXTS,
    confirmEmoji: "✅",
    nextSeq: p.nextSeq,
    log: p.log,
    ...overrides,
  };
}

/** The notices queued for the user, in order. */
export function notices(p: MemoryPorts): UserNotice[] {
  return p.mailbox.items("out").filter((i): i is UserNotice => i.kind === "notice");
}

/** Seven days open 09:00–17:00 in UTC. */
export const OFFICE_HOURS: WorkingDay[] = [0, 1, 2, 3, 4, 5, 6].map((dayOfWeek) => ({
  dayOfWeek,
  closedAllDay: false,
  openAllDay: false,
  openHour: 9,
  openMinutes: 0,
  closeHour: 17,
  closeMinutes: 0,
}));
export const EVENING = Date.UTC(2025, 0, 15, 20, 0); // a Wednesday, 20:00 UTC
export const NEXT_MORNING_S = Date.UTC(2025, 0, 16, 9, 0) / 1000;

/** A user with an open conversation and one agent message in it. */
export function conversationWithAgentMessage(p: MemoryPorts, content = "agent text") {
  const contactId = p.chatwoot.addContact(`discord:${USER}`, { sourceId: USER });
  const conversationId = p.chatwoot.addConversation(contactId);
  const chatwootMessageId = p.chatwoot.addAgentMessage(conversationId, content);
  return { conversationId, chatwootMessageId };
}

export function reply(
  at: { conversationId: number; chatwootMessageId: number },
  content: string,
  extra: Partial<OutboundReply> = {},
): OutboundReply {
  return {
    kind: "reply",
    discordUserId: USER,
    ...at,
    content,
    receivedAt: Date.now(),
    ...extra,
  };
}

export function replyDeps(p: MemoryPorts): Omit<OutboundDeps, "checkpoint"> {
  return {
    discord: p.discord,
    maxUploadBytes: 10 * MiB,
    attachmentMemory: p.attachmentMemory,
    tickets: p.tickets,
    chatwoot: p.chatwoot,
    links: p.links,
    interactive: p.interactive,
    log: p.log,
  };
}
