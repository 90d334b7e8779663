/**
 * Every kind of item a mailbox holds, in one place.
 *
 * Each user has two mailboxes, one per service they deliver to, so that an
 * outage of one service never holds what goes to the other. The **inbound**
 * mailbox (`"in"`) holds what must reach Chatwoot: what the user sent, in the
 * order they sent it, and the bridge's own updates to Chatwoot (the
 * "delivered" mark of a reply, telling the agents a reply did not arrive). The
 * **outbound** mailbox (`"out"`) holds what must reach the user: agents'
 * replies and the bridge's notices. Items are plain data: they are stored in KV.
 *
 * `deliver_inbound.ts` and `deliver_outbound.ts` map each kind to its use
 * case with a table typed by these unions: a kind without a use case does not
 * compile.
 */

import type { InteractiveContent, SubmittedValue } from "./interactive.ts";

/** inbound: to Chatwoot; outbound: to Discord. */
export type Direction = "in" | "out";
export type OtherDirection<D extends Direction> = D extends "in" ? "out" : "in";

// ---------------------------------------------------------------- inbound

/** Who sent a DM, as Discord says. */
export interface DiscordAuthor {
  id: string;
  username: string;
  globalName?: string | null;
  avatarUrl?: string | null;
}

/** A file a user sent: downloaded from Discord's CDN when the DM is delivered. */
export interface DmAttachment {
  id: string;
  filename: string;
  url: string;
  contentType: string;
  /** Bytes; 0 when Discord does not say (stickers). */
  size: number;
}

/** A user's DM (or the ticket command's message). */
export interface InboundDm {
  kind: "dm";
  messageId: string;
  channelId: string;
  author: DiscordAuthor;
  /** Readable text: Discord mentions and emoji already rendered. */
  content: string;
  /** The Discord message this one replies to. */
  replyTo?: string;
  /** Sent with the ticket slash command instead of a DM: answered in the interaction, no ✅. */
  viaCommand?: { interactionToken: string };
  /** Written in the user's fallback thread (their DMs are closed), not in DMs. */
  inThread?: true;
  attachments?: DmAttachment[];
  /** Epoch ms when the gateway handed it over. */
  receivedAt: number;
}

/** How far a DM got; saved after each step so a retry resumes there. */
export interface DmProgress {
  /** Set once Chatwoot has it (saved only when a later step fails). */
  chatwootMessageId?: number;
  conversationId?: number;
  /** The user was told delivery is delayed while this DM waited. */
  delayNotified?: boolean;
}

/** The user edited a DM Chatwoot has. */
export interface DmEdit {
  kind: "dm_edit";
  messageId: string;
  channelId: string;
  userId: string;
  content: string;
  /** Epoch ms of the edit (Discord's edited_timestamp). */
  editedAt: number;
  receivedAt: number;
}

/** The user deleted a DM Chatwoot has. */
export interface DmDeletion {
  kind: "dm_delete";
  messageId: string;
  channelId: string;
  userId: string;
  receivedAt: number;
}

/** A rating from the CSAT form. */
export interface CsatSubmission {
  kind: "csat_rating";
  uuid: string;
  discordUserId: string;
  rating: number;
  comment: string;
  /** To tell the user the outcome in the interaction (valid 15 minutes). */
  interactionToken: string;
  receivedAt: number;
}

/** The user answered an interactive message (clicked an option, submitted a form, …). */
export interface InteractiveAnswer {
  kind: "interactive_answer";
  discordUserId: string;
  conversationId: number;
  /** The interactive message answered. */
  chatwootMessageId: number;
  /** Written into the message's `submitted_values`, as Chatwoot's widget does. */
  submittedValues?: SubmittedValue[];
  /** Posted as the contact's message (an option's title), so that bots and automations continue. */
  replyText?: string;
  /** input_email: the address given, set on the contact when no other contact has it. */
  email?: string;
  receivedAt: number;
}

export interface AnswerProgress {
  /** `submitted_values` is written (a retry does not write it again: bots would see two answers). */
  submitted?: boolean;
}

// ---------------------------------------------------------------- outbound

/** A file an agent attached (from the webhook). */
export interface AgentAttachment {
  url: string;
  name: string;
  contentType: string;
  size: number;
}

/** An agent's reply. */
export interface OutboundReply {
  kind: "reply";
  discordUserId: string;
  conversationId: number;
  chatwootMessageId: number;
  content: string;
  /** Which stored piece of a very long reply this is (see intake.ts); absent for most replies. */
  segment?: number;
  /** The message the agent answered: sent as a Discord reply to its Discord copy. */
  replyTo?: { chatwootId?: number; externalId?: string };
  attachments?: AgentAttachment[];
  /** Options, cards, a form, articles or an email request: shown as Discord components. */
  interactive?: InteractiveContent;
  /** Epoch ms when the webhook arrived. */
  receivedAt: number;
}

export interface ReplyProgress {
  /** Discord message ids of the parts already sent, in order. */
  sentPartIds?: string[];
}

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

/** A card of an interactive message, shown as an embed. */
export interface MessageCard {
  title?: string;
  description?: string;
  /** The title links here. */
  url?: string;
  imageUrl?: string;
}

/** A button: either it opens `url`, or a click reaches the bridge with `customId`. */
export interface ActionButton {
  label: string;
  customId?: string;
  url?: string;
  /** "success" marks the user's answer. */
  style?: "primary" | "secondary" | "success";
  disabled?: boolean;
}

/** One row of components under a message: buttons, or one select menu. */
export type ComponentRow =
  | { buttons: ActionButton[] }
  | {
    select: {
      customId: string;
      placeholder: string;
      options: { label: string; value: string; description?: string; emoji?: string }[];
      disabled?: boolean;
    };
  };

/** What the bridge itself tells a user (ticket status, greeting, out-of-office, CSAT, "not delivered"). */
export interface UserNotice {
  kind: "notice";
  discordUserId: string;
  /** Stable identity of this notice (dedupe key and Discord nonce source). */
  noticeId: string;
  embed: NoticeEmbed;
  button?: NoticeButton;
  /** Instead of `button`: a menu or buttons (the topic menu). */
  rows?: ComponentRow[];
  /** The conversation's transcript goes with it, as a text file (TRANSCRIPT_ON_RESOLVE). */
  transcript?: { conversationId: number };
  /** Set on a CSAT prompt: the sent message is remembered for this survey. */
  csat?: { uuid: string; conversationId: number };
  receivedAt: number;
}

/** Chatwoot sent its CSAT survey: ask the user with a button instead of a link. */
export interface CsatPromptItem {
  kind: "csat_prompt";
  discordUserId: string;
  conversationId: number;
  /** From the survey link; null when the link was missing (then read from the conversation). */
  uuid: string | null;
  receivedAt: number;
}

/** An agent deleted a message in Chatwoot: delete its Discord copies. */
export interface AgentDeletion {
  kind: "agent_delete";
  discordUserId: string;
  chatwootMessageId: number;
  receivedAt: number;
}

/** Marks a reply delivered in Chatwoot (written behind the reply once Discord has it). */
export interface DeliveryStatusItem {
  kind: "delivery_status";
  discordUserId: string;
  conversationId: number;
  chatwootMessageId: number;
  receivedAt: number;
}

/** Tells the agents that something they sent did not reach the user. */
export interface AgentAlertItem {
  kind: "agent_alert";
  discordUserId: string;
  /** Absent when the failed item did not say (then the user's current ticket). */
  conversationId?: number;
  /** The Chatwoot message that failed: marked failed with the reason. */
  chatwootMessageId?: number;
  /** What did not arrive, e.g. "a reply". */
  what: string;
  reason: string;
  receivedAt: number;
}

// ---------------------------------------------------------------- the registry

export type InboundItem =
  | InboundDm
  | DmEdit
  | DmDeletion
  | CsatSubmission
  | InteractiveAnswer
  | DeliveryStatusItem
  | AgentAlertItem;
export type OutboundItem = OutboundReply | UserNotice | CsatPromptItem | AgentDeletion;

export interface MailboxItems {
  in: InboundItem;
  out: OutboundItem;
}

/** The item of each kind, by kind (for tables that must cover every kind). */
export type ItemsByKind<D extends Direction> = {
  [I in MailboxItems[D] as I["kind"]]: I;
};

/** Item kinds stored by earlier versions, read as today's. */
const RENAMED_KINDS: Record<string, string> = { delete: "agent_delete" };

/** Every kind each mailbox holds (`satisfies` makes a kind left out a compile error). */
const INBOUND_KINDS = {
  dm: true,
  dm_edit: true,
  dm_delete: true,
  csat_rating: true,
  interactive_answer: true,
  delivery_status: true,
  agent_alert: true,
} satisfies Record<InboundItem["kind"], true>;
const OUTBOUND_KINDS = {
  reply: true,
  notice: true,
  csat_prompt: true,
  agent_delete: true,
} satisfies Record<OutboundItem["kind"], true>;
const KINDS: { [D in Direction]: ReadonlySet<string> } = {
  in: new Set(Object.keys(INBOUND_KINDS)),
  out: new Set(Object.keys(OUTBOUND_KINDS)),
};

/**
 * Reads a stored item: an item of a kind this mailbox holds (renamed kinds of
 * earlier versions read as today's), else undefined.
 */
export function readItem<D extends Direction>(
  dir: D,
  stored: unknown,
): MailboxItems[D] | undefined {
  if (typeof stored !== "object" || stored === null || !("kind" in stored)) return undefined;
  const kind = typeof stored.kind === "string" ? RENAMED_KINDS[stored.kind] ?? stored.kind : "";
  if (!KINDS[dir].has(kind)) return undefined;
  const item = { ...stored, kind };
  return isItemOf(dir, item) ? item : undefined;
}

/**
 * Items are written only by this program, each with its kind: the kind is
 * what tells them apart (the registry above lists every kind).
 */
function isItemOf<D extends Direction>(
  dir: D,
  item: { kind: string },
): item is MailboxItems[D] & { kind: string } {
  return KINDS[dir].has(item.kind);
}

/** What any item may save between its steps (each kind uses its own fields). */
export type ItemProgress = DmProgress & ReplyProgress & AnswerProgress;

/** Reads the progress an item saved, keeping only the fields of its kind's progress. */
export function readProgress(
  kind: string,
  stored: Record<string, unknown>,
): ItemProgress {
  const progress: ItemProgress = {};
  if (kind === "dm") {
    if (typeof stored.chatwootMessageId === "number") {
      progress.chatwootMessageId = stored.chatwootMessageId;
    }
    if (typeof stored.conversationId === "number") progress.conversationId = stored.conversationId;
    if (stored.delayNotified === true) progress.delayNotified = true;
  }
  if (kind === "interactive_answer" && stored.submitted === true) progress.submitted = true;
  if (kind === "reply" && Array.isArray(stored.sentPartIds)) {
    progress.sentPartIds = stored.sentPartIds.filter((id): id is string => typeof id === "string");
  }
  return progress;
}

/** What a finished item leaves behind, written in the commit that removes it. */
export interface Completion<D extends Direction> {
  /**
   * A message now on both sides: the Chatwoot message and the Discord messages
   * that carry it (linked both ways), in this conversation (recent activity).
   */
  relayed?: { chatwootMessageId: number; discordMessageIds: string[]; conversationId: number };
  /** The user wrote in this DM channel (replies need not open it; the catch-up reads after it). */
  userWrote?: { channelId: string; messageId: string; inThread?: true };
  /** Who spoke last in a conversation, for the stale-ticket check-in (nudges.ts). */
  lastSpeaker?: { conversationId: number; who: "agent" | "user" };
  /** Items for the user's other mailbox (the other service), written in the same commit. */
  followUps?: MailboxItems[OtherDirection<D>][];
}

/** One attempt at an item, as the mailbox runs it. */
export interface Attempt {
  /** False when the item may have been tried before: its side effect may exist already. */
  firstAttempt: boolean;
  /** Aborted when the drain lost its mailbox: start no further side effect. */
  signal: AbortSignal;
  /** What an earlier attempt saved (only the fields of this item's kind). */
  progress: ItemProgress;
  /** Saves progress before the next side effect. */
  checkpoint(progress: DmProgress | ReplyProgress | AnswerProgress): Promise<void>;
}

/** A use case per item kind of a mailbox: a kind without one does not compile. */
export type Deliverers<D extends Direction> = {
  [K in keyof ItemsByKind<D>]: (
    item: ItemsByKind<D>[K],
    attempt: Attempt,
  ) => Promise<Completion<D> | void>;
};

/** Runs the use case of the item's kind. */
export function deliver<D extends Direction, K extends keyof ItemsByKind<D>>(
  deliverers: Deliverers<D>,
  kind: K,
  item: ItemsByKind<D>[K],
  attempt: Attempt,
): Promise<Completion<D> | void> {
  return deliverers[kind](item, attempt);
}
