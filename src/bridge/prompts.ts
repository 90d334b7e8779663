/**
 * What the bridge remembers about what it asked a user and is waiting to
 * hear back: interactive messages (options, forms, …) and the topic menu of
 * a new ticket. Data and store ports only; the use cases are in
 * interactive_answers.ts and topics.ts.
 */
import type { InteractiveContent } from "./interactive.ts";

/** An interactive message sent to a user, kept while it can be answered (30 days). */
export interface InteractivePrompt {
  chatwootMessageId: number;
  userId: string;
  conversationId: number;
  content: InteractiveContent;
  /** Values of the form parts filled in so far, by field name. */
  formValues?: Record<string, string>;
  partsDone?: number[];
  /** What the user answered; set once. */
  answer?: string;
}

export interface InteractiveStore {
  get(chatwootMessageId: number): Promise<InteractivePrompt | undefined>;
  /** Records a prompt before it is sent; one already recorded (maybe answered) is kept. */
  recordOnce(prompt: InteractivePrompt): Promise<void>;
  /** Changes a prompt atomically; `change` may run more than once. */
  update(
    chatwootMessageId: number,
    change: (prompt: InteractivePrompt) => InteractivePrompt,
  ): Promise<InteractivePrompt | undefined>;
}

export interface Topic {
  label: string;
  description?: string;
  emoji?: string;
  /** Chatwoot team id the conversation is assigned to. */
  team?: number;
  labels?: string[];
  priority?: "low" | "medium" | "high" | "urgent";
}

/** A menu shown to a user (`topic_pick/<userId>`), until their new ticket opens. */
export interface TopicPick {
  /** Epoch ms the menu was queued: names this menu (an older menu's pick is refused). */
  askedAt: number;
  /** After this, the ticket opens without a topic. */
  deadline: number;
  /** The label of the topic picked. */
  picked?: string;
}

export interface TopicPickStore {
  get(userId: string): Promise<TopicPick | undefined>;
  /** Writes a new menu unless one is recorded; returns the one recorded. */
  start(userId: string, pick: TopicPick): Promise<TopicPick>;
  /** Records a pick on this menu; false when the menu is not the current one or was answered. */
  choose(userId: string, askedAt: number, label: string): Promise<boolean>;
  /** The ticket opened: the next new ticket asks again. */
  clear(userId: string): Promise<void>;
}
