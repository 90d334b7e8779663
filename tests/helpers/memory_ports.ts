/**
 * Small in-memory implementations of the core's ports (src/bridge/ports.ts)
 * for use-case tests: no HTTP, no KV, no timers. Each keeps the state the use
 * cases read and what they were asked to do, so a test asserts on what the
 * far side saw. Chatwoot and Discord are in memory_chatwoot.ts and
 * memory_discord.ts; `memoryPorts()` builds a fresh set of all of them.
 */
import type { Attempt, ItemProgress, MailboxItems, NoticeEmbed } from "../../src/bridge/items.ts";
import type {
  AttachmentMemory,
  ConversationState,
  ConversationStore,
  CsatPrompt,
  CsatStore,
  InboxSettings,
  InboxSettingsSource,
  InteractionReplies,
  LogFields,
  Logger,
  MailboxAppend,
  MailboxPort,
  MessageLinks,
  TicketRecord,
  TicketStore,
} from "../../src/bridge/ports.ts";
import type { InteractivePrompt, InteractiveStore } from "../../src/bridge/prompts.ts";
import { inboxSettings, MemoryChatwoot } from "./memory_chatwoot.ts";
import { MemoryDiscord } from "./memory_discord.ts";

// ---------------------------------------------------------------- state

export class MemoryTickets implements TicketStore {
  readonly records = new Map<string, TicketRecord>();
  readonly dmChannels = new Map<string, string>();
  get(userId: string) {
    return Promise.resolve(this.records.get(userId));
  }
  save(record: TicketRecord) {
    this.records.set(record.userId, record);
    return Promise.resolve();
  }
  getDmChannel(userId: string) {
    return Promise.resolve(this.dmChannels.get(userId));
  }
  saveDmChannel(userId: string, channelId: string) {
    this.dmChannels.set(userId, channelId);
    return Promise.resolve();
  }
  userForDmChannel(channelId: string) {
    return Promise.resolve([...this.dmChannels].find(([, c]) => c === channelId)?.[0]);
  }
}

export class MemoryConversations implements ConversationStore {
  readonly states = new Map<number, ConversationState>();
  readonly delayNotified = new Set<string>();
  get(conversationId: number) {
    return Promise.resolve(this.states.get(conversationId));
  }
  update(
    conversationId: number,
    change: (current: ConversationState | undefined) => ConversationState | undefined,
  ) {
    const before = this.states.get(conversationId);
    const after = change(before);
    if (after) this.states.set(conversationId, after);
    else this.states.delete(conversationId);
    return Promise.resolve({ before, after });
  }
  markDelayNotified(userId: string) {
    const fresh = !this.delayNotified.has(userId);
    this.delayNotified.add(userId);
    return Promise.resolve(fresh);
  }
  clearDelayNotified(userId: string) {
    this.delayNotified.delete(userId);
    return Promise.resolve();
  }
}

export class MemoryLinks implements MessageLinks {
  readonly toDiscord = new Map<number, string[]>();
  readonly toChatwoot = new Map<string, number>();
  readonly flags = new Set<string>();
  discordFor(chatwootMessageId: number) {
    return Promise.resolve(this.toDiscord.get(chatwootMessageId));
  }
  link(chatwootMessageId: number, discordMessageIds: string[]) {
    this.toDiscord.set(chatwootMessageId, discordMessageIds);
    for (const id of discordMessageIds) this.toChatwoot.set(id, chatwootMessageId);
    return Promise.resolve();
  }
  chatwootFor(discordMessageId: string) {
    return Promise.resolve(this.toChatwoot.get(discordMessageId));
  }
  once(kind: string, id: string) {
    const key = `${kind}:${id}`;
    const fresh = !this.flags.has(key);
    this.flags.add(key);
    return Promise.resolve(fresh);
  }
}

/** Keeps the appends it accepted; an append with a dedupe key seen before is refused whole. */
export class MemoryMailbox implements MailboxPort {
  readonly appended: MailboxAppend[] = [];
  readonly seen = new Set<string>();
  /** Mailboxes resumed early (their head item waited for the user). */
  readonly resumed: string[] = [];
  resume(dir: "in" | "out", userId: string) {
    this.resumed.push(`${dir}/${userId}`);
  }
  append(request: MailboxAppend) {
    const keys = [request.dedupe ?? []].flat().map(({ kind, id }) => `${kind}/${id}`);
    if (keys.some((k) => this.seen.has(k))) return Promise.resolve(false);
    for (const k of keys) this.seen.add(k);
    this.appended.push(request);
    return Promise.resolve(true);
  }
  /** The items queued for one mailbox, in the order appended. */
  items<D extends "in" | "out">(dir: D): MailboxItems[D][] {
    return this.appended.filter((a) => a.dir === dir).flatMap((a) =>
      a.items.map((i) => i.item as MailboxItems[D])
    );
  }
}

export class MemoryInbox implements InboxSettingsSource {
  constructor(public settings: InboxSettings = inboxSettings()) {}
  get() {
    return Promise.resolve(this.settings);
  }
  remember(settings: InboxSettings) {
    this.settings = settings;
    return Promise.resolve();
  }
}

export class MemoryCsat implements CsatStore {
  readonly prompts = new Map<string, CsatPrompt>();
  get(uuid: string) {
    return Promise.resolve(this.prompts.get(uuid));
  }
  save(prompt: CsatPrompt) {
    this.prompts.set(prompt.uuid, prompt);
    return Promise.resolve();
  }
}

/** A budget that is never busy; it counts what is held. */
export class MemoryAttachmentBudget implements AttachmentMemory {
  held = 0;
  constructor(readonly capacity = 64 * 1024 * 1024) {}
  hold(bytes: number) {
    this.held += bytes;
    let released = false;
    return Promise.resolve(() => {
      if (!released) this.held -= bytes;
      released = true;
    });
  }
}

export class MemoryInteractionReplies implements InteractionReplies {
  readonly answers: { interactionToken: string; embed: NoticeEmbed }[] = [];
  editReply(interactionToken: string, embed: NoticeEmbed, _rows?: unknown) {
    this.answers.push({ interactionToken, embed });
    return Promise.resolve();
  }
}

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: LogFields;
}

/** Keeps every line (children write to their parent's list with their fields merged). */
export function memoryLogger(lines: LogLine[] = [], base: LogFields = {}): Logger & {
  lines: LogLine[];
} {
  const emit = (level: LogLine["level"]) => (msg: string, fields?: LogFields) => {
    lines.push({ level, msg, fields: { ...base, ...fields } });
  };
  return {
    lines,
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (fields) => memoryLogger(lines, { ...base, ...fields }),
  };
}

/** One mailbox attempt as the mailbox runs it, keeping every checkpoint saved. */
export function recordingAttempt(
  options: { firstAttempt?: boolean; progress?: ItemProgress } = {},
): Attempt & { saved: Parameters<Attempt["checkpoint"]>[0][] } {
  const saved: Parameters<Attempt["checkpoint"]>[0][] = [];
  return {
    firstAttempt: options.firstAttempt ?? true,
    signal: new AbortController().signal,
    progress: options.progress ?? {},
    saved,
    checkpoint(progress) {
      saved.push(structuredClone(progress));
      return Promise.resolve();
    },
  };
}

/** Every port, fresh. */
export function memoryPorts(inboxId = 7) {
  let seq = 0n;
  const chatwoot = new MemoryChatwoot(inboxId);
  return {
    chatwoot,
    discord: new MemoryDiscord(),
    tickets: new MemoryTickets(),
    conversations: new MemoryConversations(),
    links: new MemoryLinks(),
    mailbox: new MemoryMailbox(),
    inbox: new MemoryInbox(chatwoot.settings),
    csat: new MemoryCsat(),
    interactive: new MemoryInteractive(),
    attachmentMemory: new MemoryAttachmentBudget(),
    replies: new MemoryInteractionReplies(),
    log: memoryLogger(),
    nextSeq: () => ++seq,
  };
}

export type MemoryPorts = ReturnType<typeof memoryPorts>;

export class MemoryInteractive implements InteractiveStore {
  readonly prompts = new Map<number, InteractivePrompt>();
  get(id: number) {
    return Promise.resolve(this.prompts.get(id));
  }
  recordOnce(prompt: InteractivePrompt) {
    if (!this.prompts.has(prompt.chatwootMessageId)) {
      this.prompts.set(prompt.chatwootMessageId, structuredClone(prompt));
    }
    return Promise.resolve();
  }
  update(id: number, change: (p: InteractivePrompt) => InteractivePrompt) {
    const current = this.prompts.get(id);
    if (!current) return Promise.resolve(undefined);
    const next = change(current);
    this.prompts.set(id, next);
    return Promise.resolve(next);
  }
}
