/** Shared steps for lifecycle tests. */
import type { FakeMessage } from "../../src/fakes/fake_discord.ts";
import type { Harness } from "./harness.ts";

/** The user writes and waits until the DM is confirmed; returns their conversation. */
export async function openTicket(h: Harness, userId: string, content = "hello") {
  const dm = h.discord.sendDm({ userId, content });
  await h.discord.waitFor(
    () => h.discord.reactions.some((r) => r.messageId === dm.messageId),
    "the DM to be confirmed",
  );
  const message = h.chatwoot.messages.find((m) => m.source_id === dm.messageId)!;
  return { conversationId: message.conversation_id, ...dm };
}

/** The embeds the user received, in order. */
export function embedsSentTo(h: Harness, userId: string) {
  return h.discord.sentTo(userId).flatMap((
    m: FakeMessage,
  ) => ((m.embeds ?? []) as { title?: string; description?: string; color?: number }[]));
}

export async function waitForEmbed(
  h: Harness,
  userId: string,
  match: (e: { title?: string; description?: string }) => boolean,
  what: string,
) {
  return await h.discord.waitFor(() => embedsSentTo(h, userId).find(match), what);
}

/** Lets queued work finish, so that "nothing else was sent" can be asserted. */
export async function settle(h: Harness, ms = 250) {
  await new Promise((r) => setTimeout(r, ms));
  await h.bridge.mailboxes.idle();
}

export async function deliverAll(h: Harness, payloads: Record<string, unknown>[]) {
  for (const p of payloads) {
    const res = await h.chatwoot.deliver(p);
    if (res.status !== 200) throw new Error(`webhook ${p.event} answered ${res.status}`);
  }
}

/** Working hours that are closed now: open only on a day that is not today (UTC). */
export async function closeTheInbox(h: Harness, outOfOffice: string | null) {
  const today = new Date().getUTCDay();
  h.chatwoot.inbox.working_hours_enabled = true;
  h.chatwoot.inbox.timezone = "UTC";
  h.chatwoot.inbox.out_of_office_message = outOfOffice;
  h.chatwoot.inbox.working_hours = [0, 1, 2, 3, 4, 5, 6].map((d) => ({
    day_of_week: d,
    closed_all_day: d !== (today + 2) % 7,
    open_all_day: false,
    open_hour: 9,
    open_minutes: 0,
    close_hour: 17,
    close_minutes: 0,
  }));
  await h.bridge.checkChatwoot();
}

/** A user with closed DMs opens a ticket with the ticket command from the fake server. */
export async function ticketFromServer(h: Harness, userId: string, text: string, member = true) {
  if (member) h.discord.guildMembers.add(userId);
  h.discord.closedDms.add(userId);
  const command = h.discord.useCommand(userId, h.config.ticketCommand, { message: text }, {
    context: 0,
    guildId: h.discord.guildId,
    channelId: h.discord.fallbackChannelId,
  });
  await h.discord.editOf(command);
  return await h.chatwoot.waitFor(
    () => h.chatwoot.messages.find((m) => m.content === text),
    "the ticket",
  );
}
