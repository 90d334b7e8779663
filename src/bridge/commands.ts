/**
 * The user's slash commands: /status, /close [reason], /reopen, /help.
 * Each answers with one embed, shown only to the user (ephemeral).
 *
 * /close and /reopen record the new status before asking Chatwoot for it, so
 * the status webhook that follows does not send a second notice; when
 * Chatwoot refuses, the record is put back as it was.
 */
import type { NoticeEmbed } from "./items.ts";
import { describeError } from "./errors.ts";
import type {
  ChatwootPort,
  ConversationDetails,
  ConversationStore,
  Logger,
  TicketStore,
} from "./ports.ts";
import { discordTimestamp } from "./working_hours.ts";

export interface CommandDeps {
  chatwoot: ChatwootPort;
  tickets: TicketStore;
  conversations: ConversationStore;
  reopenWindowHours: number;
  lockToSingleConversation: () => Promise<boolean>;
  /** The user closed their ticket (no "resolved" notice follows: they chose it). */
  closedByUser?: (userId: string, conversationId: number) => Promise<void>;
  log: Logger;
  now?: () => number;
}

export interface CommandDefinition {
  name: string;
  description: string;
  options?: { name: string; description: string; required: boolean; maxLength?: number }[];
}

/** The command that opens or continues a ticket without the gateway (its name is configurable). */
export function ticketCommand(name: string): CommandDefinition {
  return {
    name,
    description: "Write to our support team",
    options: [{ name: "message", description: "Your message", required: true, maxLength: 2000 }],
  };
}

export const TICKET_COMMANDS: CommandDefinition[] = [
  { name: "status", description: "Show your support ticket: its status, last activity and number" },
  {
    name: "close",
    description: "Close your support ticket",
    options: [{
      name: "reason",
      description: "Why you are closing it (seen by our team only)",
      required: false,
      maxLength: 1000,
    }],
  },
  { name: "reopen", description: "Reopen your last support ticket" },
  { name: "help", description: "How this support bot works" },
];

const STATUS_LABEL: Record<string, string> = {
  open: "Open",
  pending: "Queued for an agent",
  snoozed: "Snoozed",
  resolved: "Resolved",
};

const noTicket: NoticeEmbed = {
  tone: "info",
  title: "No ticket yet",
  description: "You have no support ticket. Send me a message here to open one.",
};

function unavailable(what: string, error: unknown, log: Logger): NoticeEmbed {
  log.warn(`/${what} failed`, { error: describeError(error) });
  return {
    tone: "danger",
    title: "Please try again",
    description: `Our help desk did not answer, so your ticket could not be ${what}. ` +
      "Nothing was changed; please try again in a moment.",
  };
}

export async function showTicketStatus(deps: CommandDeps, userId: string): Promise<NoticeEmbed> {
  const ticket = await deps.tickets.get(userId);
  if (ticket?.conversationId === undefined) return noTicket;
  try {
    const c = await deps.chatwoot.getConversation(ticket.conversationId);
    const activity = c.lastActivityAt ? discordTimestamp(c.lastActivityAt * 1000) : "none yet";
    return {
      tone: c.status === "resolved" ? "success" : "info",
      title: `Ticket #${c.id}`,
      description: `**Status:** ${
        STATUS_LABEL[c.status] ?? c.status
      }\n**Last activity:** ${activity}`,
    };
  } catch (error) {
    return unavailable("read", error, deps.log);
  }
}

/**
 * Changes the status on the user's behalf. The new status is recorded first,
 * so the webhook it causes is not announced to the user as news; when
 * Chatwoot refuses, the record is put back as it was.
 */
async function changeStatusForUser(
  deps: CommandDeps,
  userId: string,
  c: ConversationDetails,
  status: "open" | "resolved",
  before?: () => Promise<unknown>,
): Promise<void> {
  const previous = (await deps.conversations.update(c.id, (s) => ({
    userId,
    lastActivityAt: c.lastActivityAt,
    eventAt: 0,
    ...s,
    status,
    ...(status === "resolved" ? { outOfOfficeShown: false } : {}),
  }))).before;
  try {
    await before?.();
    await deps.chatwoot.toggleStatus(c.id, status);
  } catch (error) {
    await deps.conversations.update(c.id, () => previous);
    throw error;
  }
}

export async function closeTicket(
  deps: CommandDeps,
  userId: string,
  reason: string | undefined,
): Promise<NoticeEmbed> {
  const ticket = await deps.tickets.get(userId);
  if (ticket?.conversationId === undefined) return noTicket;
  const id = ticket.conversationId;
  try {
    const c = await deps.chatwoot.getConversation(id);
    if (c.status === "resolved") {
      return {
        tone: "info",
        title: `Ticket #${id}`,
        description: "This ticket is already closed.",
      };
    }
    const note = reason?.trim();
    await changeStatusForUser(deps, userId, c, "resolved", async () => {
      if (note) {
        await deps.chatwoot.createPrivateNote(id, `Closed by the customer on Discord: ${note}`);
      }
    });
  } catch (error) {
    return unavailable("closed", error, deps.log);
  }
  deps.log.info("ticket closed by user", { discordUserId: userId, conversationId: id });
  await deps.closedByUser?.(userId, id).catch((error) =>
    deps.log.warn("after-close step failed", { error: describeError(error) })
  );
  return {
    tone: "success",
    title: `Ticket #${id} closed`,
    description: "Thanks for letting us know. Send a message any time to reach us again.",
  };
}

export async function reopenTicket(deps: CommandDeps, userId: string): Promise<NoticeEmbed> {
  const ticket = await deps.tickets.get(userId);
  if (ticket?.conversationId === undefined) return noTicket;
  const id = ticket.conversationId;
  try {
    const c = await deps.chatwoot.getConversation(id);
    if (c.status === "open" || c.status === "pending") {
      return { tone: "info", title: `Ticket #${id}`, description: "This ticket is already open." };
    }
    const idleMs = (deps.now ?? Date.now)() - c.lastActivityAt * 1000;
    const tooOld = deps.reopenWindowHours > 0 && c.status === "resolved" &&
      idleMs > deps.reopenWindowHours * 3600_000 && !(await deps.lockToSingleConversation());
    if (tooOld) {
      return {
        tone: "warning",
        title: `Ticket #${id}`,
        description: "This ticket was closed too long ago to reopen. " +
          "Send me a message and a new ticket will be opened for you.",
      };
    }
    await changeStatusForUser(deps, userId, c, "open");
  } catch (error) {
    return unavailable("reopened", error, deps.log);
  }
  deps.log.info("ticket reopened by user", { discordUserId: userId, conversationId: id });
  return {
    tone: "primary",
    title: `Ticket #${id} reopened`,
    description: "Your ticket is open again. Write here and an agent will see it.",
  };
}

export function helpText(): NoticeEmbed {
  return {
    tone: "info",
    title: "How this works",
    description: [
      "Send me a direct message (or use the ticket command, e.g. **/support**, in any server) and " +
      "it reaches our support team as a ticket; their answers arrive in your DMs with me.",
      "A reaction on your message means the team has it.",
      "",
      "**/status** — your ticket's status, last activity and number",
      "**/close** `[reason]` — close your ticket (the reason is seen by our team only)",
      "**/reopen** — reopen your last ticket",
      "**/help** — this message",
    ].join("\n"),
  };
}
