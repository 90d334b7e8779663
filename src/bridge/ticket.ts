/**
 * Which Chatwoot contact and conversation a Discord user's DM belongs to.
 *
 * Steady state costs no API call (the record is in the store). A first
 * contact costs two: create the contact together with its contact inbox, then
 * the conversation. A user who already exists in Chatwoot (a fresh database,
 * or a move from another bridge) is found by the exact identifier
 * `discord:<id>` and continues their last conversation in this inbox.
 */
import { isServiceStatus } from "./errors.ts";
import type { ChatwootContact, ChatwootPort, Logger, TicketRecord, TicketStore } from "./ports.ts";

export interface DiscordAuthor {
  id: string;
  username: string;
  globalName?: string | null;
  avatarUrl?: string | null;
}

export interface TicketDeps {
  chatwoot: ChatwootPort;
  tickets: TicketStore;
  inboxId: number;
  log: Logger;
}

export function contactIdentifier(userId: string): string {
  return `discord:${userId}`;
}

/** The name agents see: the user's display name, else their username. */
export function displayName(author: DiscordAuthor): string {
  return author.globalName?.trim() || author.username;
}

/** Returns the user's ticket with a conversation, creating what is missing. */
export async function resolveTicket(
  deps: TicketDeps,
  author: DiscordAuthor,
): Promise<TicketRecord & { conversationId: number }> {
  const known = await deps.tickets.get(author.id);
  if (known?.conversationId !== undefined) {
    return known as TicketRecord & { conversationId: number };
  }
  const { record, isNew } = known
    ? { record: known, isNew: false }
    : await findOrCreateContact(deps, author);
  // A contact created just now has no conversation to continue: skip the lookup.
  const conversationId =
    (isNew ? undefined : await lastConversationInInbox(deps, record.contactId)) ??
      (await deps.chatwoot.createConversation({
        contactId: record.contactId,
        sourceId: record.sourceId,
      })).id;
  const ticket = { ...record, conversationId };
  await deps.tickets.save(ticket);
  deps.log.info("ticket resolved", {
    discordUserId: author.id,
    contactId: ticket.contactId,
    conversationId,
  });
  return ticket;
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
  try {
    const created = await deps.chatwoot.createContact({
      name: displayName(author),
      identifier,
      avatarUrl: author.avatarUrl ?? undefined,
      sourceId: author.id,
      customAttributes: {
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

async function lastConversationInInbox(
  deps: TicketDeps,
  contactId: number,
): Promise<number | undefined> {
  const conversations = await deps.chatwoot.listContactConversations(contactId);
  const inInbox = conversations
    .filter((c) => c.inboxId === deps.inboxId)
    .sort((a, b) => b.lastActivityAt - a.lastActivityAt);
  return inInbox[0]?.id;
}
