/**
 * A user's edit or deletion of a DM that already reached Chatwoot. Chatwoot's
 * API cannot change an incoming message, so the change is posted as a new
 * incoming message that quotes (replies to) the original.
 */
import type { DmDeletion, DmEdit } from "./items.ts";
import type { ChatwootPort, Logger, MessageLinks, TicketStore } from "./ports.ts";

export interface DmChangeDeps {
  chatwoot: ChatwootPort;
  tickets: TicketStore;
  links: MessageLinks;
  log: Logger;
}

export function changeText(change: DmEdit | DmDeletion): string {
  return change.kind === "dm_edit"
    ? `✏️ The user edited this message. New text:\n\n${change.content}`
    : "🗑️ The user deleted this message on Discord.";
}

export function changeSourceId(change: DmEdit | DmDeletion): string {
  return change.kind === "dm_edit"
    ? `${change.messageId}:edit:${change.editedAt}`
    : `${change.messageId}:delete`;
}

export async function forwardDmChange(
  deps: DmChangeDeps,
  change: DmEdit | DmDeletion,
  /** False when this change may have been posted already (an earlier attempt failed or died). */
  attempt: { firstAttempt: boolean },
): Promise<{ conversationId: number; chatwootMessageId: number } | undefined> {
  const log = deps.log.child({ discordUserId: change.userId, discordMessageId: change.messageId });
  const original = await deps.links.chatwootFor(change.messageId);
  const conversationId = (await deps.tickets.get(change.userId))?.conversationId;
  if (original === undefined || conversationId === undefined) {
    log.info(
      `${change.kind === "dm_edit" ? "edit" : "deletion"} of a DM Chatwoot never got; ignored`,
    );
    return undefined;
  }
  // A deletion event does not say whose message it was: the bot's own copy of a reply (deleted
  // by the bot after an agent did, or by a moderator in a thread) is not the user's deletion.
  if (change.kind === "dm_delete" && !(await isUsersMessage(deps, conversationId, original))) {
    log.info("deletion of a message that is not the user's; ignored");
    return undefined;
  }
  const sourceId = changeSourceId(change);
  if (!attempt.firstAttempt) {
    const existing = (await deps.chatwoot.listMessages(conversationId)).find((m) =>
      m.sourceId === sourceId
    );
    if (existing) return { conversationId, chatwootMessageId: existing.id };
  }
  const posted = await deps.chatwoot.createIncomingMessage(conversationId, {
    content: changeText(change),
    sourceId,
    inReplyTo: original,
    inReplyToExternalId: change.messageId,
  });
  log.info(change.kind === "dm_edit" ? "dm edit forwarded" : "dm deletion forwarded", {
    conversationId,
    chatwootMessageId: posted.id,
  });
  return { conversationId, chatwootMessageId: posted.id };
}

/** Whether a Chatwoot message of this conversation is the user's (one read: it, exactly). */
async function isUsersMessage(
  deps: DmChangeDeps,
  conversationId: number,
  chatwootMessageId: number,
): Promise<boolean> {
  const [found] = await deps.chatwoot.listMessagesAfter(conversationId, chatwootMessageId - 1);
  return found?.id === chatwootMessageId && found.messageType === "incoming";
}
