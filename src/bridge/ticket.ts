/**
 * Which Chatwoot contact and conversation a Discord user's DM belongs to.
 *
 * Steady state costs no API call (the record is in the store). A first
 * contact costs two: create the contact together with its contact inbox, then
 * the conversation. A user who already exists in Chatwoot (a fresh database,
 * or a move from another bridge) is found by the exact identifier
 * `discord:<id>` and continues their last conversation in this inbox.
 */
import type { DiscordAuthor } from "./items.ts";
import { describeError, isRetryable, isServiceStatus } from "./errors.ts";
import type { Topic } from "./prompts.ts";
import { applyTopic } from "./topics.ts";
import type {
  ChatwootContact,
  ChatwootPort,
  ConversationStore,
  InboxSettings,
  Logger,
  TicketRecord,
  TicketStore,
} from "./ports.ts";

export interface TicketDeps {
  chatwoot: ChatwootPort;
  tickets: TicketStore;
  conversations: ConversationStore;
  inboxId: number;
  /** 0: always continue the last conversation; N: a resolved one idle longer than N hours is not reopened. */
  reopenWindowHours: number;
  /** Adds what plugins know about the user to a new contact; never throws. */
  enrich?: (author: DiscordAuthor) => Promise<ContactEnrichment>;
  /** Topic intake (topics.ts): absent or empty, a new ticket opens at once. */
  topics?: {
    /** The new ticket's topic; throws WaitForUser while the user has not picked. */
    forNewTicket(
      userId: string,
      viaCommand?: { interactionToken: string },
    ): Promise<Topic | undefined>;
    /** The ticket opened: the next new ticket asks again. */
    opened(userId: string): Promise<void>;
  };
  log: Logger;
  now?: () => number;
}

export interface ContactEnrichment {
  name?: string;
  email?: string;
  customAttributes?: Record<string, string>;
}

export type ResolvedTicket = TicketRecord & { conversationId: number };

/** The user's contact is blocked in Chatwoot: no ticket may be opened for them. */
export class ContactBlocked extends Error {
  constructor(readonly userId: string) {
    super(`Discord user ${userId} is blocked in Chatwoot`);
  }
}

export function contactIdentifier(userId: string): string {
  return `discord:${userId}`;
}

/** The name agents see: the user's display name, else their username. */
export function displayName(author: DiscordAuthor): string {
  return author.globalName?.trim() || author.username;
}

/**
 * The conversation a DM from this user goes to, creating what is missing.
 *
 * Lock to single conversation (inbox setting) → always the last conversation,
 * which the DM reopens. Otherwise REOPEN_WINDOW_HOURS: 0 → the last one as
 * well; N → a new conversation when the last one is resolved and was last
 * active more than N hours ago.
 */
export async function resolveTicket(
  deps: TicketDeps,
  author: DiscordAuthor,
  settings: InboxSettings,
  /** The DM came with the ticket command (the topic menu goes into its answer). */
  viaCommand?: { interactionToken: string },
): Promise<{ ticket: ResolvedTicket; created: boolean }> {
  const known = await deps.tickets.get(author.id);
  if (known?.blocked) throw new ContactBlocked(author.id);
  if (known?.conversationId !== undefined) {
    const reuse = await continueConversation(deps, known.conversationId, settings);
    if (reuse) {
      // An earlier attempt opened it with a topic and stopped before labelling it.
      if (known.pendingTopic) {
        return { ticket: await labelNewTicket(deps, known as ResolvedTicket), created: false };
      }
      return { ticket: known as ResolvedTicket, created: false };
    }
  }
  const { record, isNew } = known
    ? { record: known, isNew: false }
    : await findOrCreateContact(deps, author);
  // A contact created just now has no conversation to continue: skip the lookup.
  const last = isNew || known?.conversationId !== undefined
    ? undefined
    : await lastConversationInInbox(deps, record.contactId, author.id);
  let conversationId = last?.id;
  let created = false;
  let topic: Topic | undefined;
  if (
    conversationId === undefined || !(await continueConversation(deps, conversationId, settings))
  ) {
    // The contact is kept while the user picks a topic (the DM waits; see topics.ts).
    if (isNew && deps.topics) await deps.tickets.save(record);
    topic = await deps.topics?.forNewTicket(author.id, viaCommand);
    conversationId = (await deps.chatwoot.createConversation({
      contactId: record.contactId,
      sourceId: record.sourceId,
      ...(topic?.team !== undefined ? { teamId: topic.team } : {}),
      ...(topic ? { customAttributes: { topic: topic.label } } : {}),
    })).id;
    created = true;
  }
  const { pendingTopic: _none, ...plain } = record;
  let ticket: ResolvedTicket = {
    ...plain,
    conversationId,
    since: (deps.now ?? Date.now)(),
    ...(topic?.labels?.length || topic?.priority
      ? { pendingTopic: { labels: topic.labels, priority: topic.priority } }
      : {}),
  };
  await deps.tickets.save(ticket);
  if (created) await deps.topics?.opened(author.id);
  if (ticket.pendingTopic) ticket = await labelNewTicket(deps, ticket);

  deps.log.info(created ? "ticket opened" : "ticket continued", {
    discordUserId: author.id,
    contactId: ticket.contactId,
    conversationId,
  });
  return { ticket, created };
}

/**
 * Whether a DM may go to this conversation under the reopen rules. When it
 * reopens a resolved or snoozed one, the new status is recorded first, so the
 * status webhook that follows is not taken for an agent reopening it.
 */
async function continueConversation(
  deps: TicketDeps,
  conversationId: number,
  settings: InboxSettings,
): Promise<boolean> {
  const state = await deps.conversations.get(conversationId);
  if (!state || state.status === "open" || state.status === "pending") return true;
  const idleMs = (deps.now ?? Date.now)() - state.lastActivityAt * 1000;
  const tooOld = !settings.lockToSingleConversation && deps.reopenWindowHours > 0 &&
    state.status === "resolved" && idleMs > deps.reopenWindowHours * 3600_000;
  if (tooOld) return false;
  await deps.conversations.update(conversationId, (s) => s && { ...s, status: "open" });
  return true;
}

/** Forgets the stored conversation (it was deleted in Chatwoot) so the next DM opens a new one. */
export async function forgetConversation(deps: TicketDeps, userId: string): Promise<void> {
  const known = await deps.tickets.get(userId);
  if (!known) return;
  const { conversationId: _gone, ...rest } = known;
  await deps.tickets.save(rest);
}

async function findOrCreateContact(
  deps: TicketDeps,
  author: DiscordAuthor,
): Promise<{ record: TicketRecord; isNew: boolean }> {
  const identifier = contactIdentifier(author.id);
  const extra = await deps.enrich?.(author) ?? {};
  try {
    const created = await deps.chatwoot.createContact({
      name: extra.name ?? displayName(author),
      identifier,
      email: extra.email,
      avatarUrl: author.avatarUrl ?? undefined,
      sourceId: author.id,
      customAttributes: {
        ...extra.customAttributes,
        discord_id: author.id,
        discord_username: author.username,
        discord_display_name: displayName(author),
        source: "discord",
      },
    });
    deps.log.info("contact created", { discordUserId: author.id, contactId: created.contactId });
    return {
      record: {
        userId: author.id,
        contactId: created.contactId,
        sourceId: created.sourceId ?? author.id,
      },
      isNew: true,
    };
  } catch (error) {
    // 422: the identifier is taken, so the contact already exists. Anything else is a real failure.
    if (!isServiceStatus(error, "chatwoot", 422)) throw error;
  }
  const existing = await findContactByIdentifier(deps, identifier);
  if (!existing) {
    throw new Error(
      `Chatwoot refused to create contact ${identifier} but no contact with that identifier was found`,
    );
  }
  if (existing.blocked) throw new ContactBlocked(author.id);
  const inInbox = existing.contactInboxes.find((ci) => ci.inboxId === deps.inboxId);
  const sourceId = inInbox?.sourceId ??
    (await deps.chatwoot.createContactInbox(existing.id, author.id)).sourceId;
  deps.log.info("existing contact linked", { discordUserId: author.id, contactId: existing.id });
  return { record: { userId: author.id, contactId: existing.id, sourceId }, isNew: false };
}

/** Chatwoot's search matches substrings; only an exact identifier match is the same user. */
async function findContactByIdentifier(
  deps: TicketDeps,
  identifier: string,
): Promise<ChatwootContact | undefined> {
  const found = await deps.chatwoot.searchContacts(identifier);
  return found.find((c) => c.identifier === identifier);
}

/** The contact's most recently active conversation in this inbox; its status is recorded. */
async function lastConversationInInbox(
  deps: TicketDeps,
  contactId: number,
  userId: string,
): Promise<{ id: number } | undefined> {
  const conversations = await deps.chatwoot.listContactConversations(contactId);
  const last = conversations
    .filter((c) => c.inboxId === deps.inboxId)
    .sort((a, b) => b.lastActivityAt - a.lastActivityAt)[0];
  if (!last) return undefined;
  await deps.conversations.update(last.id, (s) =>
    s ?? {
      userId,
      status: last.status,
      lastActivityAt: last.lastActivityAt,
      eventAt: 0,
    });
  return { id: last.id };
}

/** Sets a new ticket's topic labels and priority, then forgets them (a retry repeats both). */
async function labelNewTicket(deps: TicketDeps, ticket: ResolvedTicket): Promise<ResolvedTicket> {
  if (ticket.pendingTopic) {
    try {
      await applyTopic(deps, ticket.conversationId, ticket.pendingTopic);
    } catch (error) {
      // An outage waits; a refusal (an unknown label, say) must not hold the user's messages.
      if (isRetryable(error)) throw error;
      deps.log.warn("topic labels or priority refused; the ticket keeps its team and topic", {
        conversationId: ticket.conversationId,
        error: describeError(error),
      });
      await deps.chatwoot.createPrivateNote(
        ticket.conversationId,
        `cordwoot: Chatwoot refused this topic's labels or priority (${describeError(error)}); ` +
          "check TICKET_TOPICS.",
      ).catch(() => {});
    }
  }
  const { pendingTopic: _done, ...labelled } = ticket;
  await deps.tickets.save(labelled);
  return labelled;
}
