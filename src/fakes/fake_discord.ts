/**
 * A fake Discord on 127.0.0.1: the REST API under `/api/v10/...` and a real
 * gateway WebSocket speaking the handshake of reference/discord.md §2.3
 * (HELLO, IDENTIFY → READY, heartbeats, RESUME → RESUMED), so the real
 * Discordeno client connects to it unmodified.
 *
 * It behaves like Discord where the bridge can notice: bot-token auth,
 * JSON error bodies with codes, nonce enforcement, the 2000-character limit,
 * 50007 for users whose DMs are closed, 4004 for a wrong token at IDENTIFY,
 * and a 400 / 50035 "Invalid Form Body" for embeds, message components and
 * modals outside Discord's limits (see `formProblems`).
 *
 * It also has one guild with a text channel (`fallbackChannelId`) where the bot
 * can open threads (private or public), add guild members to them and post in
 * them; users write in threads they belong to (`sendThreadMessage`). Guild
 * message events reach only sessions that asked for GUILD_MESSAGES, with their
 * content blanked without MESSAGE_CONTENT, as Discord does.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  headers: Headers;
  at: number;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  author: FakeUser;
  content: string;
  nonce?: string;
  allowed_mentions?: unknown;
  [field: string]: unknown;
}

export interface FakeUser {
  id: string;
  username: string;
  global_name: string | null;
  avatar: string | null;
  discriminator: string;
  bot?: boolean;
}

export interface FakeInteraction {
  id: string;
  token: string;
}

/** A body the fake refused with 400 / 50035, and why (paths like `components.0.components.1.label`). */
export interface InvalidBody {
  method: string;
  path: string;
  problems: string[];
}

/** A file a fake user sends; it is served from the fake CDN. */
export interface FakeFile {
  name: string;
  contentType: string;
  bytes: Uint8Array;
}

export interface DmInput {
  userId: string;
  username?: string;
  globalName?: string | null;
  content: string;
  /**
   * `url` and `size` override what the gateway event says about a file (a link
   * off the CDN, a size that lies); the CDN still serves `bytes` at its own path.
   */
  files?: (FakeFile & { url?: string; size?: number })[];
  stickers?: { id: string; name: string; formatType: number }[];
  /** The message this one replies to. */
  replyTo?: string;
  mentions?: { id: string; username: string; global_name?: string | null }[];
  /** Make it a guild message (the bridge must ignore it). */
  guildId?: string;
  bot?: boolean;
}

/** A user writing in a thread of the fake guild (see `sendThreadMessage`). */
export interface ThreadMessageInput {
  userId: string;
  threadId: string;
  content: string;
  username?: string;
  globalName?: string | null;
  /** Served from the fake CDN, like `sendDm`'s files. */
  files?: (FakeFile & { url?: string; size?: number })[];
  /** The message this one replies to. */
  replyTo?: string;
  mentions?: { id: string; username: string; global_name?: string | null }[];
}

/**
 * A thread in the fake guild, as Discord's channel object has it, plus who is in
 * it (`members`; Discord answers `member_count`, capped at 50).
 */
export interface FakeThread {
  id: string;
  /** 11 public, 12 private. */
  type: 11 | 12;
  guild_id: string;
  parent_id: string;
  name: string;
  owner_id: string;
  thread_metadata: {
    archived: boolean;
    archive_timestamp: string;
    auto_archive_duration: number;
    locked: boolean;
    invitable: boolean;
    create_timestamp: string;
  };
  message_count: number;
  total_message_sent: number;
  last_message_id: string | null;
  members: Set<string>;
}

/** Gateway intents the fake looks at (reference/discord.md §1.3). */
export const GUILD_MESSAGES = 1 << 9;
export const MESSAGE_CONTENT = 1 << 15;
const MESSAGE_EVENTS = ["MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"];
const AUTO_ARCHIVE_MINUTES = [60, 1440, 4320, 10080];

/**
 * How the fake gateway treats one connection attempt (see `failNextConnections`):
 * - refuse: answers the WebSocket upgrade with this HTTP status (Discord down, a proxy's 503);
 * - closeBeforeHello: accepts the upgrade, then closes with `code` before sending HELLO;
 * - closeAfterHello: sends HELLO, then closes with `code` instead of answering IDENTIFY/RESUME;
 * - invalidSession: sends HELLO, answers IDENTIFY/RESUME with op 9 (`resumable`), stays open;
 * - silent: sends HELLO, then never answers anything again (a zombie: no READY, no heartbeat ACK);
 * - hang: never answers the upgrade request at all (until the fake closes).
 */
export type GatewayFault =
  | { kind: "refuse"; status: number }
  | { kind: "closeBeforeHello"; code: number }
  | { kind: "closeAfterHello"; code: number }
  | { kind: "invalidSession"; resumable: boolean }
  | { kind: "silent" }
  | { kind: "hang" };

/** One request to the gateway endpoint, as the fake saw it. */
export interface GatewayAttempt {
  at: number;
  /** The fault applied, or "accepted" for a normal session. */
  outcome: GatewayFault["kind"] | "accepted";
}

const DISCORD_EPOCH = 1420070400000n;
let counter = 0n;

/** Snowflakes that grow with time, like Discord's. */
export function snowflake(): string {
  counter = (counter + 1n) & 0xfffn;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n) | counter).toString();
}

/** A syntactically valid bot token for a bot id (the id is base64 in the first part). */
export function fakeToken(botId: string, secret = "fake-secret-part"): string {
  return `${btoa(botId)}.G0ld3n.${secret}`;
}

export class FakeDiscord {
  readonly botId: string;
  readonly applicationId: string;
  readonly token: string;
  readonly requests: RecordedRequest[] = [];
  readonly sent: FakeMessage[] = [];
  /** Every DM users wrote (kept like Discord keeps them, whether or not the bot was connected). */
  readonly userMessages: Record<string, unknown>[] = [];
  readonly reactions: { channelId: string; messageId: string; emoji: string }[] = [];
  readonly identifies: unknown[] = [];
  readonly gatewayOps: { op: number; d: unknown }[] = [];
  /**
   * Users whose DMs are closed: sends to them fail with 403 / 50007 (opening the
   * DM channel still works, as on Discord). Delete a user to open their DMs again.
   */
  readonly closedDms = new Set<string>();
  /** The one guild the bot is in, and its text channel for threads. */
  readonly guildId: string;
  readonly fallbackChannelId: string;
  /** User ids in the guild (tests add users); the bot is always a member. */
  readonly guildMembers = new Set<string>();
  /** Threads the bot opened, by id. */
  readonly threads = new Map<string, FakeThread>();
  /** The `intents` of every IDENTIFY, in order (refused ones included). */
  readonly identifiedIntents: number[] = [];
  registeredCommands: unknown[] = [];
  /** The application's public key, as General Information shows it. */
  verifyKey = "a".repeat(64);
  /**
   * Fault injection for REST: called for every authorised request before it is
   * handled; a returned Response is sent instead (the request is still recorded).
   */
  intercept: ((method: string, path: string) => Response | undefined) | undefined;
  /**
   * Fault injection for REST: an authorised request for which this returns true
   * is recorded and never answered (until the fake closes: then 503).
   */
  hold: ((method: string, path: string) => boolean) | undefined;
  /** Sees every REST request on arrival (performance.now() time), for measurements. */
  observe: ((method: string, path: string, body: unknown, arrivedAt: number) => void) | undefined;
  /**
   * Enforce Discord's global limit: at most this many requests per second per bot
   * (interaction callbacks excepted); over it, a global 429. Off when undefined.
   */
  globalLimitPerSecond: number | undefined;
  /** Global 429s sent so far. */
  global429s = 0;
  /** Added to every REST answer. */
  delayMs = 0;
  #recent: number[] = [];
  #buckets = new Map<string, { remaining: number; resetAt: number }>();
  /** Every request to the gateway endpoint (upgrade attempts), refused or not, in order. */
  readonly gatewayAttempts: GatewayAttempt[] = [];
  /** Faults for the next connection attempts, applied in order (one per attempt). */
  readonly gatewayFaults: GatewayFault[] = [];
  /** What GET /gateway/bot reports as `session_start_limit`; each IDENTIFY spends one. */
  sessionStartLimit = { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 };
  /** Silent sockets stop answering heartbeats too; they are still closed by `close()`. */
  #silent = new Set<WebSocket>();
  /** Upgrade requests held unanswered (fault "hang"); answered 503 when the fake closes. */
  #hung: (() => void)[] = [];
  /** When set, every IDENTIFY is answered with this close (4014 disallowed intents, say). */
  refuseIdentify: { code: number; reason: string } | undefined;
  /** Files on the fake CDN by path; a path not here answers 404 (an expired link, say). */
  readonly cdn = new Map<string, FakeFile>();
  /** Answers CDN requests before `cdn` does (a file that lies about its size, say). */
  serveCdn: ((path: string) => Response | undefined) | undefined;
  /** Messages the bot deleted. */
  readonly deleted: { channelId: string; messageId: string }[] = [];
  /** Channels the bot showed itself typing in, with the time. */
  readonly typing: { channelId: string; at: number }[] = [];
  /** Interaction responses (`/callback`) by interaction id. */
  readonly interactionResponses = new Map<
    string,
    { type: number; data?: Record<string, unknown> }
  >();
  /** The bot's own answers to interactions (type 4/5, often ephemeral), by interaction token. */
  readonly #responseMessages = new Map<string, FakeMessage>();

  /**
   * The message an interaction's answer is (type 4, or 5 then edited): what
   * the user sees and may click on, ephemeral when flag 64 was set.
   */
  interactionMessage(i: FakeInteraction): FakeMessage | undefined {
    return this.#responseMessages.get(i.token);
  }

  /** A bot message by id: one sent to a channel, or an interaction's answer. */
  #botMessage(id: string): FakeMessage | undefined {
    return this.sent.find((s) => s.id === id) ??
      [...this.#responseMessages.values()].find((m) => m.id === id);
  }

  /** The application's flags (1 << 19: the Message Content intent enabled, limited). */
  applicationFlags = 0;

  /** Edits of `@original` interaction responses, by interaction token. */
  readonly interactionEdits = new Map<string, Record<string, unknown>[]>();
  /**
   * Message edits the bot made: PATCH /channels/{c}/messages/{m}, and (`via`
   * "interaction") a type 7 callback or a PATCH @original that edited a
   * component's message.
   */
  readonly messageEdits: {
    channelId: string;
    messageId: string;
    body: Record<string, unknown>;
    via?: "interaction";
  }[] = [];
  /** Bodies refused as an Invalid Form Body (component, modal or embed limits). */
  readonly invalidBodies: InvalidBody[] = [];
  /** Follow-up messages (POST /webhooks/{app}/{token}), by interaction token. */
  readonly followUps = new Map<string, Record<string, unknown>[]>();
  /** Interactions this fake dispatched, by token: type, channel and the message they came from. */
  #interactions = new Map<
    string,
    { id: string; type: number; channelId: string; messageId?: string }
  >();
  /** Modals shown (type 9 callbacks), by custom id: submissions mirror their layout. */
  #modals = new Map<string, Record<string, unknown>>();
  #server!: Deno.HttpServer<Deno.NetAddr>;
  #sockets = new Set<WebSocket>();
  #ready = new Set<WebSocket>();
  #seq = 0;
  #dmChannels = new Map<string, string>();
  /** Intents by ready socket, and by session id for RESUME. */
  #socketIntents = new Map<WebSocket, number>();
  #sessionIntents = new Map<string, number>();
  #channelUsers = new Map<string, string>();
  #heartbeatMs: number;

  private constructor(options: { botId: string; token?: string; heartbeatMs?: number }) {
    this.botId = options.botId;
    this.applicationId = options.botId;
    this.token = options.token ?? fakeToken(options.botId);
    this.#heartbeatMs = options.heartbeatMs ?? 41250;
    this.guildId = snowflake();
    this.fallbackChannelId = snowflake();
    this.guildMembers.add(this.botId);
  }

  static start(
    options: { botId?: string; token?: string; heartbeatMs?: number } = {},
  ): FakeDiscord {
    const fake = new FakeDiscord({ botId: options.botId ?? "111111111111111111", ...options });
    fake.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => fake.#handle(req),
    );
    return fake;
  }

  get port(): number {
    return this.#server.addr.port;
  }
  get restBase(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }
  /** HELLO's heartbeat interval for the next connections (Discordeno needs at least 1017 ms). */
  get heartbeatMs(): number {
    return this.#heartbeatMs;
  }
  set heartbeatMs(ms: number) {
    this.#heartbeatMs = ms;
  }
  get connectedSessions(): number {
    return this.#ready.size;
  }

  /** The bot's own user object, as Discord shows it. */
  botUser(): FakeUser {
    return {
      id: this.botId,
      username: "fakebot",
      discriminator: "0",
      global_name: null,
      avatar: null,
      bot: true,
    };
  }

  /** Requests the bot made to REST, optionally only those matching method and path pattern. */
  requestsTo(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  /** Messages the bot sent into a user's DM channel. */
  sentTo(userId: string): FakeMessage[] {
    const channelId = this.#dmChannels.get(userId);
    return this.sent.filter((m) => m.channel_id === channelId);
  }

  /** Plain-text messages (agent replies) the bot sent a user, leaving out embeds (notices). */
  repliesTo(userId: string): FakeMessage[] {
    return this.sentTo(userId).filter((m) => m.content !== "");
  }

  /** Messages the bot sent into a thread. */
  sentInThread(threadId: string): FakeMessage[] {
    return this.sent.filter((m) => m.channel_id === threadId);
  }

  /** Archives a thread, as Discord does after `auto_archive_duration` without activity. */
  archiveThread(threadId: string): void {
    const thread = this.threads.get(threadId);
    if (!thread) throw new Error(`fake discord: no thread ${threadId}`);
    thread.thread_metadata.archived = true;
    thread.thread_metadata.archive_timestamp = new Date().toISOString();
  }

  dmChannelOf(userId: string): string {
    let id = this.#dmChannels.get(userId);
    if (!id) {
      id = snowflake();
      this.#dmChannels.set(userId, id);
      this.#channelUsers.set(id, userId);
    }
    return id;
  }

  /** Makes a CDN link stop working, as Discord's signed links do; returns the fresh link's path. */
  expireCdnLink(url: string): string {
    const path = new URL(url).pathname.slice("/cdn".length);
    const file = this.cdn.get(path)!;
    this.cdn.delete(path);
    const fresh = `${path}-renewed`;
    this.cdn.set(fresh, file);
    for (const m of this.userMessages) {
      for (const a of (m.attachments ?? []) as { url: string; proxy_url: string }[]) {
        if (a.url === url) a.url = a.proxy_url = `${this.cdnBase}${fresh}`;
      }
    }
    return fresh;
  }

  get cdnBase(): string {
    return `http://127.0.0.1:${this.port}/cdn`;
  }

  /** A user edits a DM: MESSAGE_UPDATE with the new content and an edit time. */
  editDm(messageId: string, content: string): void {
    const original = this.userMessages.find((m) => m.id === messageId)!;
    original.content = content;
    original.edited_timestamp = new Date().toISOString();
    this.dispatch("MESSAGE_UPDATE", { ...original });
  }

  /** A user deletes a DM: MESSAGE_DELETE carries only ids. */
  deleteDm(userId: string, messageId: string): void {
    this.dispatch("MESSAGE_DELETE", { id: messageId, channel_id: this.dmChannelOf(userId) });
  }

  /** A user edits their message in a thread: MESSAGE_UPDATE with the guild id. */
  editThreadMessage(messageId: string, content: string): void {
    const original = this.userMessages.find((m) => m.id === messageId && m.guild_id)!;
    original.content = content;
    original.edited_timestamp = new Date().toISOString();
    this.dispatch("MESSAGE_UPDATE", { ...original });
  }

  /** A user deletes their message in a thread: MESSAGE_DELETE carries only ids. */
  deleteThreadMessage(threadId: string, messageId: string): void {
    this.dispatch("MESSAGE_DELETE", {
      id: messageId,
      channel_id: threadId,
      guild_id: this.guildId,
    });
  }

  /**
   * A user writes in a thread: a guild MESSAGE_CREATE (`guild_id`, `member`) on
   * every ready session that asked for GUILD_MESSAGES. Throws when the user is not
   * in the thread (a private thread they were not added to is invisible to them);
   * in a public thread a guild member joins by writing. Writing un-archives it.
   */
  sendThreadMessage(input: ThreadMessageInput): { messageId: string } {
    const thread = this.threads.get(input.threadId);
    if (!thread) throw new Error(`fake discord: no thread ${input.threadId}`);
    if (!thread.members.has(input.userId)) {
      if (thread.type !== 11 || !this.guildMembers.has(input.userId)) {
        throw new Error(`fake discord: user ${input.userId} is not in thread ${thread.id}`);
      }
      thread.members.add(input.userId);
    }
    const message = this.#authored(input, thread.id, {
      guild_id: this.guildId,
      member: guildMember(),
    });
    this.#threadActivity(thread, message.id);
    this.userMessages.push(message);
    this.dispatch("MESSAGE_CREATE", message);
    return { messageId: message.id };
  }

  /** A user starts typing in their DM with the bot. */
  startTyping(userId: string): void {
    this.dispatch("TYPING_START", {
      channel_id: this.dmChannelOf(userId),
      user_id: userId,
      timestamp: Math.floor(Date.now() / 1000),
    });
  }

  /** A user writes to the bot: a MESSAGE_CREATE dispatch on every ready session. */
  sendDm(input: DmInput): { messageId: string; channelId: string } {
    const channelId = input.guildId ? snowflake() : this.dmChannelOf(input.userId);
    const message = this.#authored(
      input,
      channelId,
      input.guildId ? { guild_id: input.guildId, member: guildMember() } : { channel_type: 1 },
    );
    this.userMessages.push(message);
    this.dispatch("MESSAGE_CREATE", message);
    return { messageId: message.id, channelId };
  }

  /** A user's message as the gateway shows it; its files and stickers go on the fake CDN. */
  #authored(
    input: Omit<DmInput, "guildId">,
    channelId: string,
    where: Record<string, unknown>,
  ): Record<string, unknown> & { id: string } {
    const messageId = snowflake();
    const attachments = (input.files ?? []).map((f) => {
      const id = snowflake();
      const path = `/attachments/${channelId}/${id}/${encodeURIComponent(f.name)}`;
      this.cdn.set(path, f);
      const url = f.url ?? `${this.cdnBase}${path}?ex=signed`;
      return {
        id,
        filename: f.name,
        size: f.size ?? f.bytes.byteLength,
        url,
        proxy_url: url,
        content_type: f.contentType,
      };
    });
    for (const s of input.stickers ?? []) {
      this.cdn.set(`/stickers/${s.id}.png`, {
        name: `${s.name}.png`,
        contentType: "image/png",
        bytes: new TextEncoder().encode(`sticker ${s.name}`),
      });
    }
    return {
      id: messageId,
      channel_id: channelId,
      author: {
        id: input.userId,
        username: input.username ?? `user${input.userId.slice(-4)}`,
        discriminator: "0",
        global_name: input.globalName ?? null,
        avatar: null,
        ...(input.bot ? { bot: true } : {}),
      },
      content: input.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: input.mentions ?? [],
      mention_roles: [],
      attachments,
      ...(input.stickers
        ? {
          sticker_items: input.stickers.map((s) => ({
            id: s.id,
            name: s.name,
            format_type: s.formatType,
          })),
        }
        : {}),
      ...(input.replyTo
        ? { message_reference: { type: 0, message_id: input.replyTo, channel_id: channelId } }
        : {}),
      embeds: [],
      components: [],
      pinned: false,
      type: 0,
      flags: 0,
      nonce: messageId,
      ...where,
    };
  }

  /** A user runs a slash command in their DM with the bot. */
  useCommand(
    userId: string,
    name: string,
    options: Record<string, string> = {},
    /**
     * Where the user runs it, as Discord tells a user-installed app: in a server channel
     * (context 0, the user as `member`), or in another DM or group DM (context 2). Default:
     * the bot's DM (context 1).
     */
    where?: { context: 0; guildId: string; channelId: string } | { context: 2; channelId: string },
  ): FakeInteraction {
    return this.#interact(
      userId,
      2,
      {
        id: snowflake(),
        name,
        type: 1,
        options: Object.entries(options).map(([n, value]) => ({ name: n, type: 3, value })),
      },
      undefined,
      where,
    );
  }

  /** A user presses a button on a message the bot sent them. */
  clickButton(userId: string, message: FakeMessage, customId: string): FakeInteraction {
    return this.#interact(userId, 3, { custom_id: customId, component_type: 2 }, message);
  }

  /** A user picks `values` in a string select menu on a message the bot sent them. */
  chooseOption(
    userId: string,
    message: FakeMessage,
    customId: string,
    values: string[],
  ): FakeInteraction {
    return this.#interact(userId, 3, { custom_id: customId, component_type: 3, values }, message);
  }

  /**
   * A user submits a form (modal) with these values by field custom id (an
   * array for a select inside a Label). The submission mirrors the modal's
   * layout when the bot showed it (Label, type 18, or action rows), else action
   * rows. A modal opened from a message component carries that `message`.
   */
  submitModal(
    userId: string,
    customId: string,
    values: Record<string, string | string[]>,
    message?: FakeMessage,
  ): FakeInteraction {
    const shown = (this.#modals.get(customId)?.components ?? []) as Record<string, unknown>[];
    const labelled = new Map<string, number>();
    for (const c of shown) {
      const inner = c.component as Record<string, unknown> | undefined;
      if (c.type === 18 && inner) labelled.set(String(inner.custom_id), Number(inner.type));
    }
    return this.#interact(
      userId,
      5,
      {
        custom_id: customId,
        components: Object.entries(values).map(([id, value]) => {
          const field = Array.isArray(value)
            ? { type: labelled.get(id) ?? 3, custom_id: id, values: value }
            : { type: 4, custom_id: id, value };
          return labelled.has(id)
            ? { type: 18, component: field }
            : { type: 1, components: [field] };
        }),
      },
      message,
    );
  }

  #interact(
    userId: string,
    type: number,
    data: Record<string, unknown>,
    message?: FakeMessage,
    where?: { context: 0; guildId: string; channelId: string } | { context: 2; channelId: string },
  ): FakeInteraction {
    const interaction = { id: snowflake(), token: `itoken-${crypto.randomUUID()}` };
    const channelId = where?.channelId ?? this.dmChannelOf(userId);
    // The message as Discord has it now (a test may hold an older copy), without the fake's bytes.
    const current = message && (this.#botMessage(message.id) ?? message);
    const { files: _bytes, ...shown } = current ?? ({} as FakeMessage);
    this.#interactions.set(interaction.token, {
      id: interaction.id,
      type,
      channelId,
      messageId: current?.id,
    });
    const user = {
      id: userId,
      username: `user${userId.slice(-4)}`,
      discriminator: "0",
      global_name: null,
      avatar: null,
    };
    this.dispatch("INTERACTION_CREATE", {
      ...interaction,
      application_id: this.applicationId,
      type,
      version: 1,
      // In a server Discord sends the user inside `member`; elsewhere as `user`.
      ...(where?.context === 0
        ? { guild_id: where.guildId, member: { user, roles: [], permissions: "0" } }
        : { user }),
      channel_id: channelId,
      channel: { id: channelId, type: where?.context === 0 ? 0 : where ? 3 : 1 },
      context: where?.context ?? 1,
      // A user-installed app is authorised by the user (integration type 1) outside its DMs.
      authorizing_integration_owners: where ? { "1": userId } : { "0": this.applicationId },
      app_permissions: "0",
      locale: "en-US",
      entitlements: [],
      attachment_size_limit: 10485760,
      data,
      ...(current ? { message: shown } : {}),
    });
    return interaction;
  }

  /** Resolves with the interaction's first response (what the user saw at once). */
  responseTo(i: FakeInteraction, timeoutMs = 5000) {
    return this.waitFor(
      () => this.interactionResponses.get(i.id),
      `a response to ${i.id}`,
      timeoutMs,
    );
  }

  /** The message as Discord has it now (the bot's, with its edits, or a user's), by id. */
  messageById(id: string): FakeMessage | undefined {
    return this.#botMessage(id) ??
      (this.userMessages.find((m) => m.id === id) as FakeMessage | undefined);
  }

  /** Follow-up messages the bot sent for an interaction, oldest first. */
  followUpsOf(i: FakeInteraction): Record<string, unknown>[] {
    return this.followUps.get(i.token) ?? [];
  }

  /** Resolves with the latest edit of the interaction's original response. */
  editOf(i: FakeInteraction, timeoutMs = 5000) {
    return this.waitFor(
      () => this.interactionEdits.get(i.token)?.at(-1),
      `an edit of ${i.id}`,
      timeoutMs,
    );
  }

  /**
   * Sends an event to every ready session. Guild message events (a `guild_id`)
   * go only to sessions whose intents hold GUILD_MESSAGES, and without
   * MESSAGE_CONTENT their content, embeds, attachments and components are empty
   * unless the bot wrote the message or is mentioned in it; DMs are unaffected.
   */
  dispatch(t: string, d: unknown): void {
    const s = ++this.#seq;
    const message = d as Record<string, unknown> | undefined;
    const inGuild = MESSAGE_EVENTS.includes(t) && typeof message?.guild_id === "string";
    for (const socket of this.#ready) {
      const intents = this.#socketIntents.get(socket) ?? 0;
      if (inGuild && (intents & GUILD_MESSAGES) === 0) continue;
      const shown = inGuild && (intents & MESSAGE_CONTENT) === 0
        ? this.#withoutContent(message!)
        : d;
      socket.send(JSON.stringify({ op: 0, t, s, d: shown }));
    }
  }

  /** A guild message as a session without MESSAGE_CONTENT sees it. */
  #withoutContent(message: Record<string, unknown>): Record<string, unknown> {
    const author = message.author as { id?: string } | undefined;
    const mentions = (message.mentions ?? []) as { id?: string }[];
    if (author?.id === this.botId || mentions.some((u) => u.id === this.botId)) return message;
    if (!("content" in message)) return message; // MESSAGE_DELETE: ids only
    return { ...message, content: "", embeds: [], attachments: [], components: [] };
  }

  /** The next `count` connection attempts fail with `fault`; later ones are served normally. */
  failNextConnections(count: number, fault: GatewayFault): void {
    for (let i = 0; i < count; i++) this.gatewayFaults.push(fault);
  }

  /** Makes every open gateway connection go silent (a zombie): no ACKs, no events, no answers. */
  silenceGateway(): void {
    for (const socket of this.#sockets) {
      this.#silent.add(socket);
      this.#ready.delete(socket);
    }
  }

  /** Closes every gateway connection with a close code (4004, 4014, … are fatal for the client). */
  closeGateway(code: number, reason: string): void {
    for (const socket of this.#sockets) socket.close(code, reason);
  }

  async waitFor<T>(
    probe: () => T | undefined | false,
    what: string,
    timeoutMs = 5000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = probe();
      if (value) return value;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`fake discord: timed out waiting for ${what}`);
  }

  async close(): Promise<void> {
    for (const answer of this.#hung.splice(0)) answer();
    for (const socket of this.#sockets) {
      try {
        socket.close(1001, "fake discord closing");
      } catch { /* already closed */ }
    }
    await this.#server.shutdown();
  }

  // ------------------------------------------------------------ gateway

  #gateway(req: Request): Response | Promise<Response> {
    const fault = this.gatewayFaults.shift();
    this.gatewayAttempts.push({ at: Date.now(), outcome: fault?.kind ?? "accepted" });
    if (fault?.kind === "refuse") {
      return new Response("upstream unavailable", { status: fault.status });
    }
    if (fault?.kind === "hang") {
      return new Promise((resolve) =>
        this.#hung.push(() => resolve(new Response("closing", { status: 503 })))
      );
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    this.#sockets.add(socket);
    if (fault?.kind === "silent") this.#silent.add(socket);
    socket.onopen = () => {
      if (fault?.kind === "closeBeforeHello") {
        socket.close(fault.code, "closed by the fake before HELLO");
        return;
      }
      socket.send(
        JSON.stringify({ op: 10, d: { heartbeat_interval: this.#heartbeatMs }, s: null, t: null }),
      );
    };
    socket.onclose = () => {
      this.#sockets.delete(socket);
      this.#ready.delete(socket);
      this.#socketIntents.delete(socket);
      this.#silent.delete(socket);
    };
    socket.onerror = () => {};
    socket.onmessage = (event) => {
      if (this.#silent.has(socket)) return;
      if (fault?.kind === "closeBeforeHello") return;
      if (fault?.kind === "closeAfterHello") {
        socket.close(fault.code, "closed by the fake after HELLO");
        return;
      }
      let packet: { op: number; d: Record<string, unknown> };
      try {
        packet = JSON.parse(String(event.data));
      } catch {
        socket.close(4002, "Error while decoding payload.");
        return;
      }
      this.gatewayOps.push({ op: packet.op, d: packet.d });
      switch (packet.op) {
        case 1:
          socket.send(JSON.stringify({ op: 11 }));
          break;
        case 2: {
          this.identifies.push(packet.d);
          const intents = Number(packet.d.intents ?? 0);
          this.identifiedIntents.push(intents);
          this.sessionStartLimit.remaining = Math.max(0, this.sessionStartLimit.remaining - 1);
          if (fault?.kind === "invalidSession") {
            socket.send(JSON.stringify({ op: 9, d: fault.resumable, s: null, t: null }));
            return;
          }
          if (this.refuseIdentify) {
            socket.close(this.refuseIdentify.code, this.refuseIdentify.reason);
            return;
          }
          if (packet.d.token !== `Bot ${this.token}`) {
            socket.close(4004, "Authentication failed.");
            return;
          }
          const sessionId = crypto.randomUUID();
          this.#sessionIntents.set(sessionId, intents);
          this.#socketIntents.set(socket, intents);
          this.#ready.add(socket);
          socket.send(JSON.stringify({
            op: 0,
            t: "READY",
            s: ++this.#seq,
            d: {
              v: 10,
              user: this.botUser(),
              guilds: [],
              session_id: sessionId,
              resume_gateway_url: this.gatewayUrl,
              shard: [0, 1],
              application: { id: this.applicationId, flags: 0 },
            },
          }));
          break;
        }
        case 6:
          if (fault?.kind === "invalidSession") {
            socket.send(JSON.stringify({ op: 9, d: fault.resumable, s: null, t: null }));
            return;
          }
          if (packet.d.token !== `Bot ${this.token}`) {
            socket.close(4004, "Authentication failed.");
            return;
          }
          // A resumed session keeps the intents it was identified with.
          this.#socketIntents.set(
            socket,
            this.#sessionIntents.get(String(packet.d.session_id)) ??
              this.identifiedIntents.at(-1) ?? 0,
          );
          this.#ready.add(socket);
          socket.send(JSON.stringify({ op: 0, t: "RESUMED", s: ++this.#seq, d: {} }));
          break;
      }
    };
    return response;
  }

  // ------------------------------------------------------------ REST

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/gateway") return this.#gateway(req);
    if (url.pathname.startsWith("/cdn/")) {
      const served = this.serveCdn?.(url.pathname.slice("/cdn".length));
      if (served) return served;
      const file = this.cdn.get(url.pathname.slice("/cdn".length));
      return file
        ? new Response(file.bytes.slice(), { headers: { "content-type": file.contentType } })
        : new Response("expired", { status: 404 });
    }
    const path = url.pathname.replace(/^\/api\/v10/, "");
    const arrivedAt = performance.now();
    const body = await readBody(req);
    this.requests.push({ method: req.method, path, body, headers: req.headers, at: Date.now() });
    this.observe?.(req.method, path, body, arrivedAt);
    // Interaction callbacks and follow-ups are authorised by the interaction token in the path.
    const tokenAuthorised = /^\/(interactions|webhooks)\//.test(path);
    if (!tokenAuthorised && req.headers.get("authorization") !== `Bot ${this.token}`) {
      return discordError(401, 0, "401: Unauthorized");
    }
    const injected = this.intercept?.(req.method, path);
    if (injected) return injected;
    if (this.hold?.(req.method, path)) {
      return new Promise((resolve) =>
        this.#hung.push(() => resolve(new Response("closing", { status: 503 })))
      );
    }
    if (!tokenAuthorised && this.globalLimitPerSecond !== undefined) {
      const limited = this.#globalLimit(arrivedAt);
      if (limited) return limited;
    }
    const bucketed = this.#routeBucket(req.method, path);
    if (bucketed) return bucketed;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));

    return this.#route(req.method, path, body, url.searchParams);
  }

  /** A sliding one-second window over every bot request, as Discord counts its global limit. */
  #globalLimit(now: number): Response | undefined {
    while (this.#recent.length && now - this.#recent[0] >= 1000) this.#recent.shift();
    if (this.#recent.length < this.globalLimitPerSecond!) {
      this.#recent.push(now);
      return undefined;
    }
    this.global429s++;
    return rateLimited(Math.max(0.001, (1000 - (now - this.#recent[0])) / 1000), "global");
  }

  /** Discord's per-channel message bucket: 5 messages per 5 s per channel. */
  #routeBucket(method: string, path: string): Response | undefined {
    const m = method === "POST" ? /^\/channels\/(\d+)\/messages$/.exec(path) : null;
    if (!m || this.globalLimitPerSecond === undefined) return undefined;
    const now = Date.now();
    let bucket = this.#buckets.get(m[1]);
    if (!bucket || now >= bucket.resetAt) bucket = { remaining: 5, resetAt: now + 5000 };
    this.#buckets.set(m[1], bucket);
    if (bucket.remaining === 0) return rateLimited((bucket.resetAt - now) / 1000, "user");
    bucket.remaining--;
    return undefined;
  }

  #route(method: string, path: string, body: unknown, query: URLSearchParams): Response {
    const b = (body ?? {}) as Record<string, unknown>;
    let m: RegExpExecArray | null;
    if (method === "GET" && path === "/gateway/bot") {
      return json({
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: { ...this.sessionStartLimit },
      });
    }
    if (method === "POST" && path === "/users/@me/channels") {
      const userId = String(b.recipient_id ?? "");
      if (!/^\d+$/.test(userId)) return discordError(400, 50035, "Invalid Form Body");
      return json({
        id: this.dmChannelOf(userId),
        type: 1,
        last_message_id: null,
        flags: 0,
        recipients: [{ id: userId, username: `user${userId.slice(-4)}`, discriminator: "0" }],
      });
    }
    if (method === "POST" && (m = /^\/channels\/(\d+)\/messages$/.exec(path))) {
      return this.#createMessage(m[1], b);
    }
    if (method === "GET" && (m = /^\/channels\/(\d+)$/.exec(path))) {
      return this.#channel(m[1]);
    }
    if (method === "POST" && (m = /^\/channels\/(\d+)\/threads$/.exec(path))) {
      return this.#startThread(m[1], path, b);
    }
    if (method === "PUT" && (m = /^\/channels\/(\d+)\/thread-members\/(\d+)$/.exec(path))) {
      return this.#addThreadMember(m[1], m[2]);
    }
    if (method === "GET" && (m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const found = [...this.userMessages, ...this.sent].find((x) =>
        x.channel_id === m![1] && x.id === m![2]
      );
      return found ? json(found) : discordError(404, 10008, "Unknown Message");
    }
    if (method === "DELETE" && (m = /^\/channels\/(\d+)$/.exec(path))) {
      // Only threads can be deleted here (Manage Threads); the deleted thread answers 10003.
      if (!this.threads.delete(m[1])) return discordError(404, 10003, "Unknown Channel");
      return json({ id: m[1], type: 12 });
    }
    if (method === "DELETE" && (m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const at = this.sent.findIndex((x) => x.channel_id === m![1] && x.id === m![2]);
      if (at < 0) return discordError(404, 10008, "Unknown Message");
      this.sent.splice(at, 1);
      this.deleted.push({ channelId: m[1], messageId: m[2] });
      return new Response(null, { status: 204, headers: rateLimitHeaders() });
    }
    if (method === "POST" && (m = /^\/channels\/(\d+)\/typing$/.exec(path))) {
      this.typing.push({ channelId: m[1], at: Date.now() });
      return new Response(null, { status: 204, headers: rateLimitHeaders() });
    }
    if (method === "GET" && (m = /^\/channels\/(\d+)\/messages$/.exec(path))) {
      const after = BigInt(query.get("after") ?? "0");
      const limit = Math.min(100, Number(query.get("limit") ?? 50));
      const inChannel = [...this.userMessages, ...this.sent]
        .filter((x) => x.channel_id === m![1] && BigInt(String(x.id)) > after)
        .sort((a, b) => (BigInt(String(b.id)) > BigInt(String(a.id)) ? 1 : -1)) // newest first
        .slice(0, limit);
      return json(inChannel);
    }
    if (method === "PATCH" && (m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const message = this.sent.find((s) => s.channel_id === m![1] && s.id === m![2]);
      if (!message) return discordError(404, 10008, "Unknown Message");
      const invalid = this.#refuseForm(method, path, b, "message");
      if (invalid) return invalid;
      Object.assign(message, b, { edited_timestamp: new Date().toISOString() });
      this.messageEdits.push({ channelId: m[1], messageId: m[2], body: b });
      return json(message);
    }
    if (method === "POST" && (m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path))) {
      return this.#callback(m[1], decodeURIComponent(m[2]), path, b);
    }
    if (
      method === "PATCH" &&
      (m = /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/.exec(path))
    ) {
      return this.#editOriginal(decodeURIComponent(m[2]), path, b);
    }
    if (method === "POST" && (m = /^\/webhooks\/(\d+)\/([^/]+)$/.exec(path))) {
      return this.#followUp(m[1], decodeURIComponent(m[2]), path, b);
    }

    if (
      method === "PUT" &&
      (m = /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/.exec(path))
    ) {
      this.reactions.push({
        channelId: m[1],
        messageId: m[2],
        emoji: decodeURIComponent(m[3]),
      });
      return new Response(null, { status: 204, headers: rateLimitHeaders() });
    }
    if (method === "GET" && (path === "/applications/@me" || path === "/oauth2/applications/@me")) {
      return json({
        id: this.applicationId,
        name: "Acme Support",
        verify_key: this.verifyKey,
        flags: this.applicationFlags,
        bot_public: true,
        bot_require_code_grant: false,
        description: "",
        icon: null,
      });
    }
    if (method === "GET" && (m = /^\/applications\/(\d+)\/commands$/.exec(path))) {
      return json(this.registeredCommands);
    }
    if (method === "PUT" && (m = /^\/applications\/(\d+)\/commands$/.exec(path))) {
      if (m[1] !== this.applicationId) return discordError(403, 50001, "Missing Access");
      const list = Array.isArray(body) ? body : [];
      this.registeredCommands = list.map((c) => ({
        id: snowflake(),
        application_id: this.applicationId,
        version: snowflake(),
        type: 1,
        ...(c as object),
      }));
      return json(this.registeredCommands);
    }
    return discordError(404, 0, "404: Not Found");
  }

  /**
   * `POST /interactions/{id}/{token}/callback`. Types 6 (deferred update) and 7
   * (update message) are only for an interaction on a message (a component, or
   * a modal opened from one); 7 edits that message at once. A modal (9) cannot
   * answer a modal submit. Interactions this fake did not dispatch (the HTTP
   * endpoint's tests make their own) are only checked for their form body.
   */
  #callback(id: string, token: string, path: string, b: Record<string, unknown>): Response {
    if (this.interactionResponses.has(id)) {
      return discordError(400, 40060, "Interaction has already been acknowledged.");
    }
    const type = Number(b.type);
    const data = (b.data ?? undefined) as Record<string, unknown> | undefined;
    const origin = this.#interactions.get(token);
    const problems: string[] = [];
    if (origin && (type === 6 || type === 7) && !origin.messageId) {
      problems.push("type: this interaction has no message to update");
    }
    if (origin && type === 9 && origin.type === 5) {
      problems.push("type: a modal cannot answer a modal submit");
    }
    if (type === 9) problems.push(...formProblems(data ?? {}, "modal", "data"));
    else if (data && [4, 7].includes(type)) {
      problems.push(...formProblems(data, "message", "data"));
    }
    if (problems.length) return this.#invalid("POST", path, problems);
    let target: FakeMessage | undefined;
    if (type === 7 && origin?.messageId) {
      target = this.#botMessage(origin.messageId);
      if (!target) return discordError(404, 10008, "Unknown Message");
    }
    this.interactionResponses.set(id, b as { type: number; data?: Record<string, unknown> });
    if ((type === 4 || type === 5) && origin) {
      this.#responseMessages.set(token, {
        id: snowflake(),
        channel_id: origin.channelId,
        author: this.botUser(),
        content: typeof data?.content === "string" ? data.content : "",
        embeds: Array.isArray(data?.embeds) ? data.embeds : [],
        components: Array.isArray(data?.components) ? data.components : [],
        flags: typeof data?.flags === "number" ? data.flags : 0,
      });
    }
    if (type === 9 && data) this.#modals.set(String(data.custom_id), data);
    if (target && data) this.#applyEdit(target, data);
    return new Response(null, { status: 204, headers: rateLimitHeaders() });
  }

  /**
   * `PATCH /webhooks/{app}/{token}/messages/@original`. After a type 6 or 7
   * callback the original is the component's message, which this edits; after
   * 4 or 5 it is the bot's response (only recorded). Both land in `interactionEdits`.
   */
  #editOriginal(token: string, path: string, b: Record<string, unknown>): Response {
    const problems = formProblems(b, "message");
    if (problems.length) return this.#invalid("PATCH", path, problems);
    const origin = this.#interactions.get(token);
    const answered = origin && this.interactionResponses.get(origin.id)?.type;
    let target: FakeMessage | undefined;
    if (origin?.messageId && (answered === 6 || answered === 7)) {
      target = this.#botMessage(origin.messageId);
      if (!target) return discordError(404, 10008, "Unknown Message");
    }
    target ??= this.#responseMessages.get(token);
    const edits = this.interactionEdits.get(token) ?? [];
    edits.push(b);
    this.interactionEdits.set(token, edits);
    if (!target) return json({ id: snowflake(), ...b });
    if (target === this.#responseMessages.get(token)) {
      // The interaction's own answer: what the user sees changes; no channel message is edited.
      for (const key of ["content", "embeds", "components"]) {
        if (b[key] !== undefined) target[key] = b[key];
      }
    } else this.#applyEdit(target, b);
    const { files: _bytes, ...visible } = target;
    return json(visible);
  }

  /**
   * `POST /webhooks/{app}/{token}`: a follow-up message. The token works once
   * the interaction has its first response (before that: 10015 Unknown
   * Webhook). Discord always waits, answering with the message; a follow-up
   * that is not ephemeral (flag 64) is a message in the channel, so it lands in
   * `sent` too.
   */
  #followUp(appId: string, token: string, path: string, b: Record<string, unknown>): Response {
    const origin = this.#interactions.get(token);
    if (appId !== this.applicationId || (origin && !this.interactionResponses.has(origin.id))) {
      return discordError(404, 10015, "Unknown Webhook");
    }
    const problems = formProblems(b, "message");
    if (problems.length) return this.#invalid("POST", path, problems);
    const content = typeof b.content === "string" ? b.content : "";
    const embeds = Array.isArray(b.embeds) ? b.embeds : [];
    const components = Array.isArray(b.components) ? b.components : [];
    if (content.trim() === "" && embeds.length === 0 && components.length === 0) {
      return discordError(400, 50006, "Cannot send an empty message");
    }
    const list = this.followUps.get(token) ?? [];
    list.push(b);
    this.followUps.set(token, list);
    const flags = Number(b.flags ?? 0);
    const message: FakeMessage = {
      id: snowflake(),
      channel_id: origin?.channelId ?? "",
      author: this.botUser(),
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      embeds,
      components,
      attachments: [],
      flags,
      type: 0,
      webhook_id: this.applicationId,
    };
    if (origin && (flags & 64) === 0) this.sent.push(message);
    return json(message);
  }

  /** Applies an interaction's update to a message the bot sent, as an edit. */
  #applyEdit(message: FakeMessage, body: Record<string, unknown>) {
    for (const key of ["content", "embeds", "components"]) {
      if (body[key] !== undefined) message[key] = body[key] ?? (key === "content" ? "" : []);
    }
    message.edited_timestamp = new Date().toISOString();
    this.messageEdits.push({
      channelId: message.channel_id,
      messageId: message.id,
      body,
      via: "interaction",
    });
  }

  /** The 400 for a body outside Discord's limits, or undefined when it is fine. */
  #refuseForm(
    method: string,
    path: string,
    body: Record<string, unknown>,
    kind: "message" | "modal",
  ): Response | undefined {
    const problems = formProblems(body, kind);
    return problems.length ? this.#invalid(method, path, problems) : undefined;
  }

  #invalid(method: string, path: string, problems: string[]): Response {
    this.invalidBodies.push({ method, path, problems });
    return invalidFormBody(problems);
  }

  /** `GET /channels/{id}`: the guild text channel, a thread, or a DM channel. */
  #channel(channelId: string): Response {
    const thread = this.threads.get(channelId);
    if (thread) return json(threadJson(thread));
    if (channelId === this.fallbackChannelId) {
      return json({
        id: channelId,
        type: 0,
        guild_id: this.guildId,
        name: "support",
        position: 0,
        parent_id: null,
        topic: null,
        nsfw: false,
        permission_overwrites: [],
        last_message_id: null,
        rate_limit_per_user: 0,
        default_auto_archive_duration: 1440,
        flags: 0,
      });
    }
    const userId = this.#channelUsers.get(channelId);
    if (!userId) return discordError(404, 10003, "Unknown Channel");
    return json({
      id: channelId,
      type: 1,
      last_message_id: null,
      flags: 0,
      recipients: [{ id: userId, username: `user${userId.slice(-4)}`, discriminator: "0" }],
    });
  }

  /**
   * `POST /channels/{id}/threads` (Start Thread without Message) in the guild's
   * text channel: name 1–100, type 11 or 12 (12 when left out, as in API v10),
   * auto_archive_duration 60/1440/4320/10080 (the channel's 1440 when left out);
   * else 400 / 50035. The bot owns the thread and is its first member. Not modelled:
   * the THREAD_CREATE gateway event, permissions, the guild's active-thread limit.
   */
  #startThread(parentId: string, path: string, b: Record<string, unknown>): Response {
    if (parentId !== this.fallbackChannelId) {
      return this.threads.has(parentId) || this.#channelUsers.has(parentId)
        ? discordError(400, 50024, "Cannot execute action on this channel type")
        : discordError(404, 10003, "Unknown Channel");
    }
    const problems: string[] = [];
    text(problems, "name", b.name, { min: 1, max: 100, required: true });
    const type = b.type ?? 12;
    if (type !== 11 && type !== 12) problems.push("type: must be 11 or 12 in a text channel");
    const archiveAfter = b.auto_archive_duration ?? 1440;
    if (!AUTO_ARCHIVE_MINUTES.includes(archiveAfter as number)) {
      problems.push(`auto_archive_duration: must be one of ${AUTO_ARCHIVE_MINUTES.join(", ")}`);
    }
    const invitable = b.invitable ?? true;
    if (typeof invitable !== "boolean") problems.push("invitable: must be a boolean");
    if (problems.length) return this.#invalid("POST", path, problems);
    const now = new Date().toISOString();
    const thread: FakeThread = {
      id: snowflake(),
      type: type as 11 | 12,
      guild_id: this.guildId,
      parent_id: parentId,
      name: b.name as string,
      owner_id: this.botId,
      thread_metadata: {
        archived: false,
        archive_timestamp: now,
        auto_archive_duration: archiveAfter as number,
        locked: false,
        invitable: invitable as boolean,
        create_timestamp: now,
      },
      message_count: 0,
      total_message_sent: 0,
      last_message_id: null,
      members: new Set([this.botId]),
    };
    this.threads.set(thread.id, thread);
    return json(threadJson(thread), 201);
  }

  /**
   * `PUT /channels/{thread}/thread-members/{user}`: 204 (also when already in it)
   * for a member of the guild; 404 / 10007 for anyone else; 400 / 50083 while
   * the thread is archived (Discord requires it open).
   */
  #addThreadMember(threadId: string, userId: string): Response {
    const thread = this.threads.get(threadId);
    if (!thread) {
      return threadId === this.fallbackChannelId || this.#channelUsers.has(threadId)
        ? discordError(400, 50024, "Cannot execute action on this channel type")
        : discordError(404, 10003, "Unknown Channel");
    }
    if (thread.thread_metadata.archived) {
      return discordError(400, 50083, "Operation cannot be performed on an archived thread");
    }
    if (userId !== this.botId && !this.guildMembers.has(userId)) {
      return discordError(404, 10007, "Unknown Member");
    }
    thread.members.add(userId);
    return new Response(null, { status: 204, headers: rateLimitHeaders() });
  }

  /** A message in a thread counts, un-archives it and becomes its last message. */
  #threadActivity(thread: FakeThread, messageId: string) {
    thread.thread_metadata.archived = false;
    thread.message_count++;
    thread.total_message_sent++;
    thread.last_message_id = messageId;
  }

  /**
   * `POST /channels/{id}/messages` in a DM channel, a thread of the guild or its
   * text channel (guild messages carry `guild_id`); a message in an archived
   * thread un-archives it.
   */
  #createMessage(channelId: string, b: Record<string, unknown>): Response {
    const userId = this.#channelUsers.get(channelId);
    const thread = this.threads.get(channelId);
    const inGuild = thread !== undefined || channelId === this.fallbackChannelId;
    if (!userId && !inGuild) return discordError(404, 10003, "Unknown Channel");
    if (userId && this.closedDms.has(userId)) {
      return discordError(403, 50007, "Cannot send messages to this user");
    }
    const content = typeof b.content === "string" ? b.content : "";
    if (content.length > 2000) return discordError(400, 50035, "Invalid Form Body");
    const embeds = Array.isArray(b.embeds) ? b.embeds : [];
    const files = (b.files ?? []) as FakeFile[];
    if (files.length > 10) return discordError(400, 50035, "Invalid Form Body");
    if (files.some((f) => f.bytes.byteLength > 10 * 1024 * 1024)) {
      return discordError(413, 40005, "Request entity too large");
    }
    const reference = (b.message_reference ?? undefined) as { message_id?: string } | undefined;
    if (content.trim() === "" && embeds.length === 0 && files.length === 0) {
      return discordError(400, 50006, "Cannot send an empty message");
    }
    if (embeds.length > 10) return discordError(400, 50035, "Invalid Form Body");
    const invalid = this.#refuseForm("POST", `/channels/${channelId}/messages`, b, "message");
    if (invalid) return invalid;
    const nonce = typeof b.nonce === "string" ? b.nonce : undefined;
    if (nonce && b.enforce_nonce === true) {
      const earlier = this.sent.find((s) => s.channel_id === channelId && s.nonce === nonce);
      if (earlier) return json(earlier);
    }
    const message: FakeMessage = {
      id: snowflake(),
      channel_id: channelId,
      author: this.botUser(),
      content,
      nonce,
      allowed_mentions: b.allowed_mentions,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: files.map((f) => ({
        id: snowflake(),
        filename: f.name,
        size: f.bytes.byteLength,
      })),
      files,
      ...(reference?.message_id ? { message_reference: { message_id: reference.message_id } } : {}),
      embeds,
      components: Array.isArray(b.components) ? b.components : [],
      pinned: false,
      type: 0,
      flags: 0,
      ...(inGuild ? { guild_id: this.guildId } : {}),
    };
    if (thread) this.#threadActivity(thread, message.id);
    this.sent.push(message);
    const { files: _bytes, ...visible } = message;
    return json(visible);
  }
}

/** JSON, or multipart with `payload_json` and `files[n]` (files land under `files`). */
async function readBody(req: Request): Promise<unknown> {
  if ((req.headers.get("content-type") ?? "").startsWith("multipart/form-data")) {
    const form = await req.formData();
    const payload = JSON.parse(String(form.get("payload_json") ?? "{}"));
    const files: FakeFile[] = [];
    for (const [key, value] of form.entries()) {
      if (key.startsWith("files[") && value instanceof File) {
        files.push({
          name: value.name,
          contentType: value.type,
          bytes: new Uint8Array(await value.arrayBuffer()),
        });
      }
    }
    return { ...payload, files };
  }
  const text = await req.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function rateLimitHeaders(): Record<string, string> {
  return {
    "x-ratelimit-limit": "50",
    "x-ratelimit-remaining": "49",
    "x-ratelimit-reset": String(Date.now() / 1000 + 1),
    "x-ratelimit-reset-after": "1",
    "x-ratelimit-bucket": "fake-bucket",
  };
}

/** A 429 as Discord sends it: JSON body plus the rate-limit headers Discordeno reads. */
export function rateLimited(
  retryAfterSeconds: number,
  scope: "user" | "global" | "shared" = "user",
) {
  return Response.json(
    {
      message: "You are being rate limited.",
      retry_after: retryAfterSeconds,
      global: scope === "global",
    },
    {
      status: 429,
      headers: {
        "retry-after": String(retryAfterSeconds),
        "x-ratelimit-limit": "5",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(Date.now() / 1000 + retryAfterSeconds),
        "x-ratelimit-reset-after": String(retryAfterSeconds),
        "x-ratelimit-bucket": "fake-bucket",
        "x-ratelimit-scope": scope,
        ...(scope === "global" ? { "x-ratelimit-global": "true" } : {}),
      },
    },
  );
}

/** A thread as Discord's channel object shows it. */
function threadJson(thread: FakeThread): Record<string, unknown> {
  const { members, ...shown } = thread;
  return {
    ...shown,
    thread_metadata: { ...thread.thread_metadata },
    flags: 0,
    rate_limit_per_user: 0,
    member_count: Math.min(50, members.size),
  };
}

/** The `member` of a guild MESSAGE_CREATE (Discord leaves its `user` out: it is the author). */
function guildMember(): Record<string, unknown> {
  return {
    roles: [],
    joined_at: new Date().toISOString(),
    nick: null,
    avatar: null,
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
  };
}

function json(value: unknown, status = 200): Response {
  return Response.json(value, { status, headers: rateLimitHeaders() });
}

function discordError(status: number, code: number, message: string): Response {
  return json({ message, code }, status);
}

/**
 * Discord's 400 for a bad body: `{code: 50035, message, errors}`, where `errors`
 * nests by path down to `{_errors: [{code, message}]}`.
 */
function invalidFormBody(problems: string[]): Response {
  const errors: Record<string, unknown> = {};
  for (const problem of problems) {
    const [where, ...rest] = problem.split(": ");
    let node = errors;
    for (const part of where.split(".")) {
      node = (node[part] ??= {}) as Record<string, unknown>;
    }
    const list = (node._errors ??= []) as { code: string; message: string }[];
    list.push({ code: "BASE_TYPE_INVALID", message: rest.join(": ") });
  }
  return json({ message: "Invalid Form Body", code: 50035, errors }, 400);
}

// ------------------------------------------------------------ form limits

const BUTTON = 2;
const STRING_SELECT = 3;
const TEXT_INPUT = 4;
/** User, role, mentionable and channel selects: checked for their custom id only. */
const OTHER_SELECTS = [5, 6, 7, 8];
const TEXT_DISPLAY = 10;
const LABEL = 18;

type Json = Record<string, unknown>;

/** A string field's problems: missing when required, wrong type, or longer than `max`. */
function text(
  problems: string[],
  at: string,
  value: unknown,
  limits: { max: number; min?: number; required?: boolean },
) {
  if (value === undefined || value === null) {
    if (limits.required) problems.push(`${at}: this field is required`);
    return;
  }
  if (typeof value !== "string") return void problems.push(`${at}: must be a string`);
  const length = [...value].length;
  if (length > limits.max) problems.push(`${at}: must be ${limits.max} or fewer in length`);
  if (length < (limits.min ?? 0)) problems.push(`${at}: must be ${limits.min} or more in length`);
}

function int(problems: string[], at: string, value: unknown, min: number, max: number) {
  if (value === undefined || value === null) return;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    problems.push(`${at}: must be an integer from ${min} to ${max}`);
  }
}

/**
 * What Discord would refuse in a message body (create, edit, interaction
 * response data) or a modal, as `path: problem` lines (snake_case, the way
 * Discordeno sends it). Limits from the OpenAPI spec and the docs
 * (reference/discord.md §6): message content ≤ 2000; ≤ 10 embeds (title 256,
 * description 4096, ≤ 25 fields of 256/1024, footer 2048, author 256, 6000 in
 * all); ≤ 5 action rows, each with 1–5 buttons or exactly one select; buttons
 * labelled ≤ 80, a link button (style 5) with a url and no custom id, others
 * with a custom id ≤ 100 and no url; string selects with a custom id, 1–25
 * options (label and value 1–100, unique values, description ≤ 100),
 * placeholder ≤ 150, min_values 0–25, max_values 1–25; custom ids unique in the
 * message. Modals: custom id, title ≤ 45, 1–5 components, each an action row
 * with one text input, a Label (type 18, label ≤ 45, description ≤ 100) around
 * a text input or string select, or a text display; text inputs with a custom
 * id, style 1 or 2, label ≤ 45 (required outside a Label), placeholder ≤ 100,
 * value ≤ 4000, min_length 0–4000, max_length 1–4000. Components v2 layouts
 * (containers, sections …) are not modelled and are refused.
 */
export function formProblems(body: Json, kind: "message" | "modal", prefix = ""): string[] {
  const problems: string[] = [];
  const at = (path: string) => (prefix ? `${prefix}.${path}` : path);
  const ids = new Set<string>();
  const customId = (path: string, value: unknown, required: boolean) => {
    text(problems, at(path), value, { max: 100, min: 1, required });
    if (typeof value !== "string") return;
    if (ids.has(value)) problems.push(`${at(path)}: custom ids must be unique (${value})`);
    ids.add(value);
  };

  const select = (c: Json, path: string) => {
    customId(`${path}.custom_id`, c.custom_id, true);
    text(problems, at(`${path}.placeholder`), c.placeholder, { max: 150 });
    int(problems, at(`${path}.min_values`), c.min_values, 0, 25);
    int(problems, at(`${path}.max_values`), c.max_values, 1, 25);
    if (
      Number.isInteger(c.min_values) && Number.isInteger(c.max_values) &&
      (c.min_values as number) > (c.max_values as number)
    ) problems.push(`${at(`${path}.min_values`)}: must not exceed max_values`);
    if (c.type !== STRING_SELECT) return;
    const options = c.options;
    if (!Array.isArray(options) || options.length < 1 || options.length > 25) {
      return void problems.push(`${at(`${path}.options`)}: must hold 1 to 25 options`);
    }
    const values = new Set<unknown>();
    options.forEach((o: Json, i) => {
      const op = `${path}.options.${i}`;
      text(problems, at(`${op}.label`), o?.label, { max: 100, min: 1, required: true });
      text(problems, at(`${op}.value`), o?.value, { max: 100, min: 1, required: true });
      text(problems, at(`${op}.description`), o?.description, { max: 100 });
      if (values.has(o?.value)) problems.push(`${at(`${op}.value`)}: option values must be unique`);
      values.add(o?.value);
    });
  };

  const textInput = (c: Json, path: string, inLabel: boolean) => {
    if (c.type !== TEXT_INPUT) return void problems.push(`${at(`${path}.type`)}: not a text input`);
    customId(`${path}.custom_id`, c.custom_id, true);
    if (c.style !== 1 && c.style !== 2) problems.push(`${at(`${path}.style`)}: must be 1 or 2`);
    text(problems, at(`${path}.label`), c.label, { max: 45, min: 1, required: !inLabel });
    text(problems, at(`${path}.placeholder`), c.placeholder, { max: 100 });
    text(problems, at(`${path}.value`), c.value, { max: 4000 });
    int(problems, at(`${path}.min_length`), c.min_length, 0, 4000);
    int(problems, at(`${path}.max_length`), c.max_length, 1, 4000);
    if (
      Number.isInteger(c.min_length) && Number.isInteger(c.max_length) &&
      (c.min_length as number) > (c.max_length as number)
    ) problems.push(`${at(`${path}.min_length`)}: must not exceed max_length`);
  };

  if (kind === "modal") {
    customId("custom_id", body.custom_id, true);
    text(problems, at("title"), body.title, { max: 45, min: 1, required: true });
    const rows = body.components;
    if (!Array.isArray(rows) || rows.length < 1 || rows.length > 5) {
      problems.push(`${at("components")}: a modal holds 1 to 5 components`);
      return problems;
    }
    rows.forEach((row: Json, r) => {
      const path = `components.${r}`;
      if (row?.type === 1) {
        const inner = row.components;
        if (!Array.isArray(inner) || inner.length !== 1) {
          return void problems.push(`${at(`${path}.components`)}: must hold one text input`);
        }
        textInput(inner[0], `${path}.components.0`, false);
      } else if (row?.type === LABEL) {
        text(problems, at(`${path}.label`), row.label, { max: 45, min: 1, required: true });
        text(problems, at(`${path}.description`), row.description, { max: 100, min: 1 });
        const inner = row.component as Json | undefined;
        if (inner?.type === STRING_SELECT) select(inner, `${path}.component`);
        else if (inner) textInput(inner, `${path}.component`, true);
        else problems.push(`${at(`${path}.component`)}: this field is required`);
      } else if (row?.type === TEXT_DISPLAY) {
        text(problems, at(`${path}.content`), row.content, { max: 4000, min: 1, required: true });
      } else problems.push(`${at(`${path}.type`)}: not a modal component`);
    });
    return problems;
  }

  text(problems, at("content"), body.content, { max: 2000 });
  const embeds = body.embeds;
  if (embeds !== undefined && embeds !== null) {
    if (!Array.isArray(embeds) || embeds.length > 10) {
      problems.push(`${at("embeds")}: at most 10 embeds`);
    } else {
      let total = 0;
      const count = (v: unknown) => (typeof v === "string" ? [...v].length : 0);
      embeds.forEach((e: Json, i) => {
        const path = `embeds.${i}`;
        text(problems, at(`${path}.title`), e?.title, { max: 256 });
        text(problems, at(`${path}.description`), e?.description, { max: 4096 });
        const footer = e?.footer as Json | undefined;
        const author = e?.author as Json | undefined;
        text(problems, at(`${path}.footer.text`), footer?.text, { max: 2048 });
        text(problems, at(`${path}.author.name`), author?.name, { max: 256 });
        total += count(e?.title) + count(e?.description) + count(footer?.text) +
          count(author?.name);
        const fields = e?.fields;
        if (Array.isArray(fields)) {
          if (fields.length > 25) problems.push(`${at(`${path}.fields`)}: at most 25 fields`);
          fields.forEach((f: Json, j) => {
            text(problems, at(`${path}.fields.${j}.name`), f?.name, { max: 256, required: true });
            text(problems, at(`${path}.fields.${j}.value`), f?.value, {
              max: 1024,
              required: true,
            });
            total += count(f?.name) + count(f?.value);
          });
        }
      });
      if (total > 6000) problems.push(`${at("embeds")}: embeds exceed 6000 characters in all`);
    }
  }
  const rows = body.components;
  if (rows === undefined || rows === null) return problems;
  if (!Array.isArray(rows) || rows.length > 5) {
    problems.push(`${at("components")}: at most 5 action rows`);
    return problems;
  }
  rows.forEach((row: Json, r) => {
    const path = `components.${r}`;
    if (row?.type !== 1) {
      return void problems.push(`${at(`${path}.type`)}: only action rows (type 1) are modelled`);
    }
    const inner = row.components;
    if (!Array.isArray(inner) || inner.length < 1 || inner.length > 5) {
      return void problems.push(`${at(`${path}.components`)}: an action row holds 1 to 5`);
    }
    const buttons = inner.filter((c: Json) => c?.type === BUTTON).length;
    if (buttons !== inner.length && inner.length !== 1) {
      problems.push(`${at(`${path}.components`)}: up to 5 buttons or exactly one select`);
    }
    inner.forEach((c: Json, k) => {
      const cp = `${path}.components.${k}`;
      if (c?.type === BUTTON) {
        const style = c.style;
        if (!Number.isInteger(style) || (style as number) < 1 || (style as number) > 6) {
          problems.push(`${at(`${cp}.style`)}: must be 1 to 6`);
        }
        text(problems, at(`${cp}.label`), c.label, { max: 80 });
        if (style === 5) {
          text(problems, at(`${cp}.url`), c.url, { max: 512, min: 1, required: true });
          if (c.custom_id != null) {
            problems.push(`${at(`${cp}.custom_id`)}: a link button has no custom id`);
          }
        } else if (style === 6) {
          if (c.sku_id == null) problems.push(`${at(`${cp}.sku_id`)}: this field is required`);
        } else {
          customId(`${cp}.custom_id`, c.custom_id, true);
          if (c.url != null) problems.push(`${at(`${cp}.url`)}: only link buttons have a url`);
        }
        if (style !== 6 && (c.label == null || c.label === "") && c.emoji == null) {
          problems.push(`${at(`${cp}.label`)}: a button needs a label or an emoji`);
        }
      } else if (c?.type === STRING_SELECT || OTHER_SELECTS.includes(c?.type as number)) {
        select(c, cp);
      } else problems.push(`${at(`${cp}.type`)}: not a message component`);
    });
  });
  return problems;
}
