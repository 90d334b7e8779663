/**
 * Chatwoot's contact_created / contact_updated: a contact blocked (or
 * unblocked) in Chatwoot opens no ticket from then on (see inbound.ts).
 */
import type { ContactChange } from "./webhook_events.ts";
import type { Logger, TicketStore } from "./ports.ts";
import { discordUserOf } from "./webhook_routing.ts";

export async function applyContactChange(
  deps: { tickets: TicketStore; accountId: number; log: Logger },
  contact: ContactChange,
): Promise<void> {
  const userId = discordUserOf({ contactIdentifier: contact.identifier, contactSourceId: null });
  if (!userId || (contact.accountId !== undefined && contact.accountId !== deps.accountId)) return;
  const ticket = await deps.tickets.get(userId);
  if (!ticket || (ticket.blocked ?? false) === contact.blocked) return;
  await deps.tickets.save({ ...ticket, blocked: contact.blocked });
  deps.log.info(contact.blocked ? "contact blocked in chatwoot" : "contact unblocked in chatwoot", {
    discordUserId: userId,
  });
}
