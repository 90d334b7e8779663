/**
 * A stateful fake Chatwoot (Account API of an API-channel inbox) on
 * 127.0.0.1, answering with the response shapes in reference/chatwoot.md,
 * quirks included: contact search matches identifiers as substrings, contact
 * create wraps `{payload:{contact, contact_inbox}}`, a taken identifier is a
 * 422, an incoming message reopens a resolved conversation, REST messages
 * carry `message_type` as an integer.
 *
 * It can also play Chatwoot's webhook sender: `agentReply` stores an
 * outgoing message and `deliver` POSTs it, shaped like
 * `../shared/chatwoot/webhooks/message_created.json` and signed like 4.12+.
 *
 * It ships in the product (`cordwoot demo` runs against it), so it reads no
 * file: tests hand in the swagger check as `checkRequest`.
 */

export interface RecordedCall {
  method: string;
  path: string;
  /** The spec path template the request matched, e.g. `/api/v1/accounts/{account_id}/contacts`. */
  route: string;
  body: unknown;
  at: number;
}

export interface FakeContact {
  id: number;
  name: string;
  identifier: string | null;
  email: string | null;
  phone_number: string | null;
  avatar_url: string | null;
  blocked: boolean;
  custom_attributes: Record<string, unknown>;
  additional_attributes: Record<string, unknown>;
  created_at: number;
  last_activity_at: number;
}

export interface FakeContactInbox {
  id: number;
  contact_id: number;
  inbox_id: number;
  source_id: string;
  created_at: string;
}

export interface FakeConversation {
  id: number;
  uuid: string;
  inbox_id: number;
  contact_id: number;
  contact_inbox_id: number;
  status: "open" | "resolved" | "pending" | "snoozed";
  created_at: number;
  last_activity_at: number;
  /** The team it was created for (`POST /conversations` `team_id`); `meta.team` in its JSON. */
  team_id: number | null;
  /** Set by `POST /conversations/{id}/labels`, which replaces the list. */
  labels: string[];
  /** Set by `toggle_priority`; null is "no priority". */
  priority: ConversationPriority | null;
  custom_attributes: Record<string, unknown>;
  additional_attributes: Record<string, unknown>;
}

export type ConversationPriority = "low" | "medium" | "high" | "urgent";

export interface FakeAttachment {
  id: number;
  name: string;
  contentType: string;
  bytes: Uint8Array;
}

export interface FakeMessage {
  id: number;
  attachments?: FakeAttachment[];
  conversation_id: number;
  content: string;
  /** 0 incoming, 1 outgoing, 2 activity, 3 template */
  message_type: number;
  private: boolean;
  source_id: string | null;
  content_type: string;
  content_attributes: Record<string, unknown>;
  sender_type: "Contact" | "User" | "AgentBot" | null;
  sender_id: number | null;
  status: string;
  created_at: number;
}

/** The fields tests read from contact and conversation creation answers. */
export interface AgentApiAnswer {
  id: number;
  payload: { contact: { id: number }; contact_inbox: { source_id: string } };
}

export interface FakeChatwootOptions {
  accountId?: number;
  inboxId?: number;
  token?: string;
  webhookSecret?: string;
  /**
   * Problems with a JSON request body, given its method and spec route (e.g.
   * `/api/v1/accounts/{account_id}/contacts`); they are kept in `specViolations`.
   */
  checkRequest?: (method: string, route: string, body: unknown) => string[];
}

const MESSAGE_TYPES = ["incoming", "outgoing", "activity", "template"];
const AGENT = { id: 3, name: "Bob Agent", email: "bob@acme.test" };
/** The agent bot that `agentReply(..., {sender: "agent_bot"})` writes as (AgentBot#push_event_data). */
const AGENT_BOT = { id: 9, name: "Support Bot", avatar_url: "" };
const PRIORITIES: ConversationPriority[] = ["low", "medium", "high", "urgent"];
/** The route of the Client API's message update (swagger's parameter names). */
const PUBLIC_MESSAGE_ROUTE =
  "/public/api/v1/inboxes/{inbox_identifier}/contacts/{contact_identifier}/conversations/{conversation_id}/messages/{message_id}";

export class FakeChatwoot {
  readonly accountId: number;
  readonly inboxId: number;
  readonly token: string;
  webhookSecret: string | undefined;
  readonly calls: RecordedCall[] = [];
  /** Request bodies `checkRequest` found fault with (the swagger spec, in tests). */
  readonly specViolations: string[] = [];
  readonly contacts: FakeContact[] = [];
  readonly contactInboxes: FakeContactInbox[] = [];
  readonly conversations: FakeConversation[] = [];
  readonly messages: FakeMessage[] = [];
  inbox: Record<string, unknown>;
  /** Where `deliver` sends webhooks. */
  webhookUrl = "";
  /**
   * Fault injection: called for every authenticated API request before it is
   * handled; a returned Response is sent instead (the request is still recorded).
   */
  intercept: ((call: RecordedCall) => Response | undefined) | undefined;
  /**
   * Serves files on Chatwoot's origin outside the API (a storage redirect, a
   * file that lies about its size): called first for every request; a
   * returned Response is sent as is. Requests it answers are not recorded.
   */
  serveFile: ((url: URL) => Response | undefined) | undefined;
  /**
   * Like Chatwoot, deliver webhooks for changes made through the API (status
   * changes with their CSAT survey, incoming-message echoes). Off by default.
   */
  autoWebhooks = false;
  /** Added to every API answer, to make work take time (a crash then lands mid-burst). */
  delayMs = 0;
  /** Ratings received on the public CSAT endpoint. */
  readonly csatResponses: { uuid: string; rating: number; feedback: string }[] = [];
  /** Make the CSAT endpoint answer 422, as Chatwoot does 14 days after the survey. */
  csatClosed = false;
  /** Client API typing toggles: the contact typing, as agents would see it. */
  readonly contactTyping: { conversationId: number; status: string }[] = [];
  /**
   * Every accepted Client API `submitted_values` update, in order, with what was
   * kept after Chatwoot's parameter filter (a repeat is recorded too: count them).
   */
  readonly submissions: { messageId: number; conversationId: number; values: unknown }[] = [];
  /** Team names by id, for `meta.team` (an unknown id is shown as "Team <id>"). */
  readonly teams = new Map<number, string>();
  /** Account webhooks (Settings > Integrations > Webhooks). */
  readonly webhooks: { id: number; url: string; subscriptions: string[]; secret: string | null }[] =
    [];
  /** Webhook deliveries made by `autoWebhooks`, with the bridge's answer. */
  readonly autoDeliveries: { event: string; status: number }[] = [];
  #server!: Deno.HttpServer<Deno.NetAddr>;
  #checkRequest: FakeChatwootOptions["checkRequest"];
  #ids = { contact: 40, contactInbox: 50, conversation: 120, message: 5000, attachment: 880 };

  private constructor(options: FakeChatwootOptions) {
    this.accountId = options.accountId ?? 1;
    this.inboxId = options.inboxId ?? 7;
    this.token = options.token ?? "cw-fake-access-token";
    this.webhookSecret = options.webhookSecret;
    this.#checkRequest = options.checkRequest;
    this.inbox = {
      id: this.inboxId,
      name: "Discord DMs",
      channel_type: "Channel::Api",
      channel_id: 3,
      avatar_url: "",
      greeting_enabled: false,
      greeting_message: null,
      working_hours_enabled: false,
      csat_survey_enabled: false,
      out_of_office_message: null,
      timezone: "UTC",
      lock_to_single_conversation: false,
      webhook_url: null,
      inbox_identifier: "fakeInboxIdentifier123",
    };
  }

  static start(options: FakeChatwootOptions = {}): FakeChatwoot {
    const fake = new FakeChatwoot(options);
    fake.#listen(0);
    return fake;
  }

  #port = 0;
  #offline = false;

  #listen(port: number) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      (req) => this.#handle(req),
    );
    this.#port = this.#server.addr.port;
  }

  /** Stops listening: connections are refused, as when Chatwoot is down. */
  async goOffline(): Promise<void> {
    this.#offline = true;
    await this.#server.shutdown();
  }

  /** Listens again on the same port. */
  goOnline(): void {
    this.#offline = false;
    this.#listen(this.#port);
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Does what an agent or another tool would through the account API (POST, JSON). */
  async asAgent(path: string, body: unknown): Promise<AgentApiAnswer> {
    const res = await fetch(`${this.baseUrl}/api/v1/accounts/${this.accountId}${path}`, {
      method: "POST",
      headers: { "api_access_token": this.token, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return await res.json();
  }

  /** Calls made to the account API, optionally of one route (`METHOD /spec/path`). */
  callsTo(route?: string): RecordedCall[] {
    return route ? this.calls.filter((c) => `${c.method} ${c.route}` === route) : this.calls;
  }

  messagesIn(conversationId: number): FakeMessage[] {
    return this.messages.filter((m) => m.conversation_id === conversationId);
  }

  async waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = probe();
      if (value) return value;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`fake chatwoot: timed out waiting for ${what}`);
  }

  async close(): Promise<void> {
    if (!this.#offline) await this.#server.shutdown();
  }

  // ------------------------------------------------------------ webhooks

  /**
   * An agent (or agent bot) writes in a conversation; returns the
   * `message_created` payload Chatwoot would send. Interactive messages
   * (`input_select`, `cards`, `form`, `article`, `input_email`) carry
   * `contentType` and `contentAttributes` (`{items: [...]}`) as Chatwoot
   * stores them; item keys Chatwoot's ContentAttributeValidator refuses make
   * this throw, since Chatwoot would never have sent such a message.
   */
  agentReply(
    conversationId: number,
    content: string,
    options: {
      private?: boolean;
      messageType?: "outgoing" | "template";
      files?: Omit<FakeAttachment, "id">[];
      inReplyTo?: number;
      /** Chatwoot's content_type name; default "text". */
      contentType?: string;
      contentAttributes?: Record<string, unknown>;
      /** Who wrote it; default an agent ("user"), or nobody for a template. */
      sender?: "user" | "agent_bot";
    } = {},
  ): Record<string, unknown> {
    const conversation = this.conversations.find((c) => c.id === conversationId);
    if (!conversation) throw new Error(`no conversation ${conversationId}`);
    const type = options.messageType ?? "outgoing";
    const contentType = options.contentType ?? "text";
    const invalid = interactiveProblem(contentType, options.contentAttributes ?? {});
    if (invalid) throw new Error(`Chatwoot would refuse this message: ${invalid}`);
    const sender = options.sender ?? (type === "template" ? undefined : "user");
    const message = this.#addMessage(conversation, {
      content,
      message_type: MESSAGE_TYPES.indexOf(type),
      private: options.private ?? false,
      source_id: null,
      sender_type: sender === "user" ? "User" : sender === "agent_bot" ? "AgentBot" : null,
      sender_id: sender === "user" ? AGENT.id : sender === "agent_bot" ? AGENT_BOT.id : null,
    });
    message.content_type = contentType;
    message.content_attributes = structuredClone(options.contentAttributes ?? {});
    if (options.files) {
      message.attachments = options.files.map((f) => ({ id: ++this.#ids.attachment, ...f }));
    }
    if (options.inReplyTo !== undefined) {
      const target = this.messages.find((m) => m.id === options.inReplyTo)!;
      message.content_attributes = {
        ...message.content_attributes,
        in_reply_to: target.id,
        in_reply_to_external_id: target.source_id,
      };
    }
    return this.messageCreatedPayload(message);
  }

  /** The `message_updated` webhook body for a stored message (as after an answer or an edit). */
  messageUpdatedPayload(messageId: number): Record<string, unknown> {
    const message = this.messages.find((m) => m.id === messageId);
    if (!message) throw new Error(`no message ${messageId}`);
    return { ...this.messageCreatedPayload(message), event: "message_updated" };
  }

  /** An agent deletes a message: Chatwoot soft-deletes it and sends `message_updated`. */
  deleteMessage(messageId: number): Record<string, unknown> {
    const message = this.messages.find((m) => m.id === messageId)!;
    message.content = "This message was deleted";
    message.content_type = "text";
    message.content_attributes = { deleted: true };
    delete message.attachments;
    return this.messageUpdatedPayload(messageId);
  }

  /** An agent blocks (or unblocks) a contact: `contact_updated` to account webhooks. */
  setBlocked(contactId: number, blocked: boolean): Record<string, unknown> {
    const contact = this.contacts.find((c) => c.id === contactId)!;
    const previous = contact.blocked;
    contact.blocked = blocked;
    return {
      event: "contact_updated",
      ...this.#contactWebhookData(contact),
      changed_attributes: [{ blocked: { previous_value: previous, current_value: blocked } }],
    };
  }

  /** `conversation_typing_on|off` as Chatwoot sends it for an agent (or the contact). */
  typingPayload(
    conversationId: number,
    on: boolean,
    options: { private?: boolean; byContact?: boolean } = {},
  ): Record<string, unknown> {
    const conversation = this.conversations.find((c) => c.id === conversationId)!;
    const contact = this.contacts.find((c) => c.id === conversation.contact_id)!;
    return {
      event: on ? "conversation_typing_on" : "conversation_typing_off",
      user: options.byContact ? this.#contactWebhookData(contact) : { ...AGENT, type: "user" },
      conversation: this.#conversationWebhookData(conversation),
      is_private: options.private ?? false,
    };
  }

  /** The `message_created` webhook body for a stored message, keyed like Chatwoot 4.15's. */
  messageCreatedPayload(message: FakeMessage): Record<string, unknown> {
    const conversation = this.conversations.find((c) => c.id === message.conversation_id)!;
    const type = MESSAGE_TYPES[message.message_type];
    const contact = this.contacts.find((c) => c.id === conversation.contact_id)!;
    return {
      account: { id: this.accountId, name: "Acme Support" },
      additional_attributes: {},
      content_attributes: message.content_attributes,
      content_type: message.content_type,
      content: message.content,
      conversation: this.#conversationWebhookData(conversation),
      created_at: new Date(message.created_at * 1000).toISOString(),
      id: message.id,
      inbox: { id: conversation.inbox_id, name: String(this.inbox.name) },
      message_type: type,
      private: message.private,
      sender: this.#senderData(message, contact),
      source_id: message.source_id,
      ...(message.attachments?.length
        ? {
          attachments: message.attachments.map((a) => ({
            id: a.id,
            message_id: message.id,
            file_type: a.contentType.startsWith("image/") ? "image" : "file",
            account_id: this.accountId,
            extension: a.name.split(".").pop() ?? null,
            content_type: a.contentType,
            data_url: `${this.baseUrl}/rails/active_storage/blobs/redirect/blob${a.id}/${
              encodeURIComponent(a.name)
            }`,
            thumb_url: "",
            file_size: a.bytes.byteLength,
            width: null,
            height: null,
          })),
        }
        : {}),
      event: "message_created",
    };
  }

  /** Active Storage: the `data_url` redirect, then the file. */
  #storage(url: URL): Response | undefined {
    const redirect = /^\/rails\/active_storage\/blobs\/redirect\/blob(\d+)\//.exec(url.pathname);
    if (redirect) {
      return new Response(null, { status: 302, headers: { location: `/storage/${redirect[1]}` } });
    }
    const stored = /^\/storage\/(\d+)$/.exec(url.pathname);
    if (!stored) return undefined;
    const file = this.messages.flatMap((m) => m.attachments ?? []).find((a) =>
      a.id === Number(stored[1])
    );
    return file
      ? new Response(file.bytes.slice(), { headers: { "content-type": file.contentType } })
      : new Response("Not Found", { status: 404 });
  }

  #clientTyping(match: RegExpExecArray, body: unknown): Response {
    const [, identifier, sourceId, id] = match;
    const conversation = this.conversations.find((c) => c.id === Number(id));
    const ci = conversation &&
      this.contactInboxes.find((x) => x.id === conversation.contact_inbox_id);
    if (
      identifier !== this.inbox.inbox_identifier || !ci ||
      ci.source_id !== decodeURIComponent(sourceId)
    ) {
      return json({ status: 404, error: "Not Found" }, 404);
    }
    const status = String((body as { typing_status?: string })?.typing_status);
    this.contactTyping.push({ conversationId: conversation!.id, status });
    return new Response(null, { status: 200 });
  }

  /**
   * POSTs a webhook to the bridge the way Chatwoot does: compact JSON,
   * `X-Chatwoot-Delivery`, and when a secret is set the timestamp and
   * `sha256=` HMAC over `"<timestamp>.<body>"`.
   */
  async deliver(
    payload: unknown,
    options: {
      secret?: string;
      timestamp?: number;
      signature?: string;
      body?: string;
      deliveryId?: string;
    } = {},
  ): Promise<Response> {
    const body = options.body ?? JSON.stringify(payload);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "accept": "application/json",
      "x-chatwoot-delivery": options.deliveryId ?? crypto.randomUUID(),
    };

    const secret = options.secret ?? this.webhookSecret;
    if (secret !== undefined || options.signature !== undefined) {
      const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
      headers["x-chatwoot-timestamp"] = timestamp;
      headers["x-chatwoot-signature"] = options.signature ??
        `sha256=${await hmacHex(secret!, `${timestamp}.${body}`)}`;
    }
    const response = await fetch(this.webhookUrl, { method: "POST", headers, body });
    await response.body?.cancel();
    return response;
  }

  // ------------------------------------------------------------ HTTP

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const served = this.serveFile?.(url);
    if (served) return served;
    const storage = this.#storage(url);
    if (storage) return storage;
    let body: unknown = undefined;
    if ((req.headers.get("content-type") ?? "").startsWith("multipart/form-data")) {
      body = await readMultipart(req);
    } else {
      const text = await req.text();
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          return json({ error: "Invalid JSON" }, 400);
        }
      }
    }
    const typing =
      /^\/public\/api\/v1\/inboxes\/([^/]+)\/contacts\/([^/]+)\/conversations\/(\d+)\/toggle_typing$/
        .exec(url.pathname);
    if (typing) return this.#clientTyping(typing, body);
    const answer =
      /^\/public\/api\/v1\/inboxes\/([^/]+)\/contacts\/([^/]+)\/conversations\/(\d+)\/messages\/(\d+)$/
        .exec(url.pathname);
    if (answer) {
      // Not checked against the swagger: it calls `submitted_values` an object,
      // while the widget (and Chatwoot's own bot code) sends an array.
      const call = {
        method: req.method,
        path: url.pathname,
        route: PUBLIC_MESSAGE_ROUTE,
        body,
        at: Date.now(),
      };
      this.calls.push(call);
      const injected = this.intercept?.(call);
      if (injected) return injected;
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      return this.#clientAnswer(req.method, answer, body);
    }
    const prefix = `/api/v1/accounts/${this.accountId}`;
    const survey = /^\/public\/api\/v1\/csat_survey\/([^/]+)$/.exec(url.pathname);
    if (survey) {
      const route = "/public/api/v1/csat_survey/{uuid}";
      this.calls.push({ method: req.method, path: url.pathname, route, body, at: Date.now() });
      const injected = this.intercept?.(this.calls.at(-1)!);
      if (injected) return injected;
      return this.#csatSurvey(req.method, decodeURIComponent(survey[1]), body);
    }

    if (!url.pathname.startsWith("/api/v1/accounts/")) return notFound();
    const token = req.headers.get("api_access_token");
    if (!token) return json({ errors: ["You need to sign in or sign up before continuing."] }, 401);
    if (token !== this.token) return json({ error: "Invalid Access Token" }, 401);
    if (!url.pathname.startsWith(`${prefix}/`)) {
      return json({ error: "You are not authorized to access this account" }, 401);
    }
    const path = url.pathname.slice(prefix.length);
    const match = this.#match(req.method, path);
    const route = match ? `/api/v1/accounts/{account_id}${match.template}` : path;
    const call = { method: req.method, path: url.pathname, route, body, at: Date.now() };
    this.calls.push(call);
    const injected = this.intercept?.(call);
    if (injected) return injected;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (!match) return notFound();
    if (this.#checkRequest && body !== undefined && !(body as { files?: unknown }).files) {
      for (const problem of this.#checkRequest(req.method, route, body)) {
        this.specViolations.push(`${req.method} ${route}: ${problem}`);
      }
    }
    return match.handler(match.params, (body ?? {}) as Record<string, unknown>, url.searchParams);
  }

  #match(method: string, path: string) {
    type Handler = (
      params: string[],
      body: Record<string, unknown>,
      query: URLSearchParams,
    ) => Response;
    const routes: [string, RegExp, string, Handler][] = [
      ["GET", /^\/contacts\/search$/, "/contacts/search", (_p, _b, q) => this.#search(q)],
      ["POST", /^\/contacts$/, "/contacts", (_p, b) => this.#createContact(b)],
      [
        "POST",
        /^\/contacts\/(\d+)\/contact_inboxes$/,
        "/contacts/{id}/contact_inboxes",
        (p, b) => this.#createContactInbox(Number(p[0]), b),
      ],
      [
        "GET",
        /^\/contacts\/(\d+)\/conversations$/,
        "/contacts/{id}/conversations",
        (p) => this.#contactConversations(Number(p[0])),
      ],
      [
        "GET",
        /^\/contacts\/(\d+)$/,
        "/contacts/{id}",
        (p) => this.#withContact(Number(p[0]), (c) => json({ payload: this.#contactJson(c) })),
      ],
      [
        "PUT",
        /^\/contacts\/(\d+)$/,
        "/contacts/{id}",
        (p, b) => this.#updateContact(Number(p[0]), b),
      ],
      ["POST", /^\/conversations$/, "/conversations", (_p, b) => this.#createConversation(b)],
      [
        "GET",
        /^\/conversations\/(\d+)\/labels$/,
        "/conversations/{conversation_id}/labels",
        (p) => this.#withConversation(Number(p[0]), (c) => json({ payload: [...c.labels] })),
      ],
      [
        "POST",
        /^\/conversations\/(\d+)\/labels$/,
        "/conversations/{conversation_id}/labels",
        (p, b) => this.#withConversation(Number(p[0]), (c) => this.#setLabels(c, b)),
      ],
      [
        "POST",
        /^\/conversations\/(\d+)\/toggle_priority$/,
        "/conversations/{conversation_id}/toggle_priority",
        (p, b) => this.#withConversation(Number(p[0]), (c) => this.#togglePriority(c, b)),
      ],
      [
        "GET",
        /^\/webhooks$/,
        "/webhooks",
        () =>
          json({
            payload: { webhooks: this.webhooks.map((w) => ({ ...w, account_id: this.accountId })) },
          }),
      ],
      [
        "GET",
        /^\/conversations\/(\d+)$/,
        "/conversations/{conversation_id}",
        (p) => this.#getConversation(Number(p[0])),
      ],
      [
        "POST",
        /^\/conversations\/(\d+)\/toggle_status$/,
        "/conversations/{conversation_id}/toggle_status",
        (p, b) => this.#toggleStatus(Number(p[0]), b),
      ],
      [
        "POST",
        /^\/conversations\/(\d+)\/messages$/,
        "/conversations/{conversation_id}/messages",
        (p, b) => this.#createMessage(Number(p[0]), b),
      ],
      [
        "PATCH",
        /^\/conversations\/(\d+)\/messages\/(\d+)$/,
        "/conversations/{conversation_id}/messages/{message_id}",
        (p, b) => this.#updateMessage(Number(p[0]), Number(p[1]), b),
      ],
      [
        "GET",
        /^\/conversations\/(\d+)\/messages$/,
        "/conversations/{conversation_id}/messages",
        (p, _b, q) => this.#listMessages(Number(p[0]), q),
      ],
      ["GET", /^\/inboxes\/(\d+)$/, "/inboxes/{id}", (p) => this.#getInbox(Number(p[0]))],
    ];
    for (const [m, pattern, template, handler] of routes) {
      const found = m === method ? pattern.exec(path) : null;
      if (found) return { template, params: found.slice(1), handler };
    }
    return undefined;
  }

  #search(q: URLSearchParams): Response {
    const query = q.get("q") ?? "";
    if (query.trim() === "") {
      return json({ meta: { count: null, current_page: 1, has_more: null }, payload: [] });
    }
    const lower = query.toLowerCase();
    // Chatwoot: name/email/phone ILIKE %q%, identifier LIKE %q% (case-sensitive substring).
    const found = this.contacts.filter((c) =>
      c.name.toLowerCase().includes(lower) ||
      (c.email ?? "").toLowerCase().includes(lower) ||
      (c.phone_number ?? "").includes(query) ||
      (c.identifier ?? "").includes(query)
    );
    const page = found.slice(0, 15);
    return json({
      meta: { count: page.length, current_page: q.get("page") ?? 1, has_more: found.length > 15 },
      payload: page.map((c) => this.#contactJson(c)),
    });
  }

  #createContact(b: Record<string, unknown>): Response {
    const identifier = typeof b.identifier === "string" ? b.identifier : null;
    if (identifier && this.contacts.some((c) => c.identifier === identifier)) {
      return json(
        { message: "Identifier has already been taken", attributes: ["identifier"] },
        422,
      );
    }
    const now = Math.floor(Date.now() / 1000);
    const contact: FakeContact = {
      id: ++this.#ids.contact,
      name: typeof b.name === "string" ? b.name : "",
      identifier,
      email: typeof b.email === "string" ? b.email : null,
      phone_number: typeof b.phone_number === "string" ? b.phone_number : null,
      avatar_url: typeof b.avatar_url === "string" ? b.avatar_url : null,
      blocked: b.blocked === true,
      custom_attributes: (b.custom_attributes as Record<string, unknown>) ?? {},
      additional_attributes: (b.additional_attributes as Record<string, unknown>) ?? {},
      created_at: now,
      last_activity_at: now,
    };
    this.contacts.push(contact);
    let contactInbox: { inbox: unknown; source_id: string | null } = {
      inbox: null,
      source_id: null,
    };
    if (b.inbox_id !== undefined) {
      if (Number(b.inbox_id) !== this.inboxId) return notFound();
      // An API inbox without a source id gets a random one.
      const ci = this.#addContactInbox(
        contact.id,
        typeof b.source_id === "string" ? b.source_id : crypto.randomUUID(),
      );
      contactInbox = { inbox: { ...this.inbox }, source_id: ci.source_id };
    }
    return json({ payload: { contact: this.#contactJson(contact), contact_inbox: contactInbox } });
  }

  #createContactInbox(contactId: number, b: Record<string, unknown>): Response {
    if (!this.contacts.some((c) => c.id === contactId)) return notFound();
    if (Number(b.inbox_id) !== this.inboxId) return notFound();
    const sourceId = typeof b.source_id === "string" ? b.source_id : crypto.randomUUID();
    const taken = this.contactInboxes.find((ci) =>
      ci.source_id === sourceId && ci.inbox_id === this.inboxId
    );
    if (taken && taken.contact_id !== contactId) {
      return json({ status: 500, error: "Internal Server Error" }, 500);
    }
    const ci = taken ?? this.#addContactInbox(contactId, sourceId);
    return json({ source_id: ci.source_id, inbox: this.#inboxBrief() });
  }

  #contactConversations(contactId: number): Response {
    if (!this.contacts.some((c) => c.id === contactId)) return notFound();
    const list = this.conversations.filter((c) => c.contact_id === contactId)
      .sort((a, b) => b.last_activity_at - a.last_activity_at).slice(0, 20);
    return json({ payload: list.map((c) => this.#conversationJson(c)) });
  }

  #createConversation(b: Record<string, unknown>): Response {
    const inboxId = Number(b.inbox_id);
    const contactId = Number(b.contact_id);
    if (inboxId !== this.inboxId) return notFound();
    if (!this.contacts.some((c) => c.id === contactId)) return notFound();
    // Without a source id Chatwoot makes a new random contact inbox every time.
    const sourceId = typeof b.source_id === "string" ? b.source_id : crypto.randomUUID();
    const ci =
      this.contactInboxes.find((x) => x.contact_id === contactId && x.source_id === sourceId) ??
        this.#addContactInbox(contactId, sourceId);
    if (this.inbox.lock_to_single_conversation) {
      const last = this.conversations.filter((c) => c.contact_inbox_id === ci.id).at(-1);
      if (last) return json(this.#conversationJson(last));
    }
    // ConversationBuilder: the given status (an unknown one is an enum error, a 500),
    // custom and additional attributes as sent, the team id.
    const status = typeof b.status === "string" && b.status !== "" ? b.status : "open";
    if (!["open", "resolved", "pending", "snoozed"].includes(status)) {
      return json({ status: 500, error: "Internal Server Error" }, 500);
    }
    const now = Math.floor(Date.now() / 1000);
    const conversation: FakeConversation = {
      id: ++this.#ids.conversation,
      uuid: crypto.randomUUID(),
      inbox_id: inboxId,
      contact_id: contactId,
      contact_inbox_id: ci.id,
      status: status as FakeConversation["status"],
      created_at: now,
      last_activity_at: now,
      team_id: b.team_id === undefined || b.team_id === null || b.team_id === ""
        ? null
        : Number(b.team_id),
      labels: [],
      priority: null,
      custom_attributes: isPlainObject(b.custom_attributes)
        ? structuredClone(b.custom_attributes)
        : {},
      additional_attributes: isPlainObject(b.additional_attributes)
        ? structuredClone(b.additional_attributes)
        : {},
    };
    this.conversations.push(conversation);
    return json(this.#conversationJson(conversation));
  }

  #withConversation(id: number, then: (c: FakeConversation) => Response): Response {
    const conversation = this.conversations.find((c) => c.id === id);
    return conversation ? then(conversation) : notFound();
  }

  #withContact(id: number, then: (c: FakeContact) => Response): Response {
    const contact = this.contacts.find((c) => c.id === id);
    return contact ? then(contact) : notFound();
  }

  /**
   * `POST conversations/{id}/labels`: `update_labels` replaces the whole list
   * (acts_as_taggable: trimmed, blanks and repeats dropped); anything but an
   * array of strings is filtered out by strong parameters, which clears it.
   */
  #setLabels(conversation: FakeConversation, b: Record<string, unknown>): Response {
    const given = Array.isArray(b.labels) ? b.labels.filter((l) => typeof l === "string") : [];
    conversation.labels = [...new Set(given.map((l) => l.trim()).filter((l) => l !== ""))];
    return json({ payload: [...conversation.labels] });
  }

  /**
   * `POST conversations/{id}/toggle_priority`: `self.priority = priority.presence`
   * on the enum low/medium/high/urgent. Empty or null clears it; any other value
   * (the swagger's "none" included: the dashboard sends null) is an enum
   * ArgumentError, which Chatwoot answers with a 500. Success is an empty 200.
   */
  #togglePriority(conversation: FakeConversation, b: Record<string, unknown>): Response {
    const p = b.priority;
    if (p === undefined || p === null || p === "") conversation.priority = null;
    else if (PRIORITIES.includes(p as ConversationPriority)) {
      conversation.priority = p as ConversationPriority;
    } else return json({ status: 500, error: "Internal Server Error" }, 500);
    return new Response(null, { status: 200 });
  }

  /**
   * `PUT contacts/{id}`: assigns the permitted fields and saves. Custom and
   * additional attributes are merged; the email is lowercased and must be
   * well-formed and unused by another contact of the account (case-insensitive),
   * the identifier unused; a failure is a 422 `{message, attributes}`.
   */
  #updateContact(id: number, b: Record<string, unknown>): Response {
    const contact = this.contacts.find((c) => c.id === id);
    if (!contact) return notFound();
    const str = (v: unknown) => (typeof v === "string" ? v : v == null ? null : String(v));
    const next = { ...contact };
    if ("name" in b) next.name = str(b.name) ?? "";
    if ("identifier" in b) next.identifier = str(b.identifier) || null;
    if ("email" in b) next.email = str(b.email)?.toLowerCase() || null;
    if ("phone_number" in b) next.phone_number = str(b.phone_number) || null;
    if ("blocked" in b) next.blocked = b.blocked === true || b.blocked === "true";
    if (isPlainObject(b.custom_attributes)) {
      next.custom_attributes = { ...contact.custom_attributes, ...b.custom_attributes };
    }
    if (isPlainObject(b.additional_attributes)) {
      next.additional_attributes = { ...contact.additional_attributes, ...b.additional_attributes };
    }
    const errors: [string, string][] = [];
    const others = this.contacts.filter((c) => c.id !== id);
    if (next.email && !/^[^@\s]+@[^@\s]+$/.test(next.email)) {
      errors.push(["email", "Email Invalid email"]);
    } else if (next.email && others.some((c) => c.email?.toLowerCase() === next.email)) {
      errors.push(["email", "Email has already been taken"]);
    }
    if (next.identifier && others.some((c) => c.identifier === next.identifier)) {
      errors.push(["identifier", "Identifier has already been taken"]);
    }
    if (next.phone_number && !/^\+[1-9]\d{1,14}$/.test(next.phone_number)) {
      errors.push(["phone_number", "Phone number should be in e164 format"]);
    }
    if (errors.length) {
      return json({
        message: errors.map(([, m]) => m).join(", "),
        attributes: errors.map(([a]) => a),
      }, 422);
    }
    Object.assign(contact, next);
    return json({ payload: this.#contactJson(contact) });
  }

  /**
   * Client API `PATCH …/messages/{id}` (public/api/v1/inboxes/messages_controller#update):
   * looks up an API inbox by identifier, the contact inbox by source id, the
   * conversation by display id among all of that contact's conversations, then
   * the message in it — any miss is a 404. It keeps only name/title/value of each
   * `submitted_values` entry (and a CSAT response), stores them on the message
   * (overwriting an earlier answer) and answers with the public message JSON.
   * Without `submitted_values` nothing changes. With `autoWebhooks`, a change
   * sends `message_updated`.
   */
  #clientAnswer(method: string, match: RegExpExecArray, body: unknown): Response {
    const notFoundPublic = () => json({ status: 404, error: "Not Found" }, 404);
    if (method !== "PATCH" && method !== "PUT") return notFoundPublic();
    const [, identifier, sourceId, displayId, messageId] = match;
    if (
      this.inbox.channel_type !== "Channel::Api" || identifier !== this.inbox.inbox_identifier
    ) return notFoundPublic();
    const ci = this.contactInboxes.find((x) =>
      x.inbox_id === this.inboxId && x.source_id === decodeURIComponent(sourceId)
    );
    const conversation = ci &&
      this.conversations.find((c) => c.contact_id === ci.contact_id && c.id === Number(displayId));
    const message = conversation &&
      this.messagesIn(conversation.id).find((m) => m.id === Number(messageId));
    if (!message) return notFoundPublic();
    if (message.content_type === "input_csat" && this.csatClosed) {
      return json({ error: "You cannot update the CSAT survey after 14 days" }, 422);
    }
    const values = permitSubmittedValues(
      (body as { submitted_values?: unknown })?.submitted_values,
    );
    if (values !== undefined) {
      const changed = JSON.stringify(message.content_attributes.submitted_values) !==
        JSON.stringify(values);
      message.content_attributes = { ...message.content_attributes, submitted_values: values };
      this.submissions.push({ messageId: message.id, conversationId: conversation!.id, values });
      if (changed && this.autoWebhooks) {
        void this.#deliverAll([this.messageUpdatedPayload(message.id)]);
      }
    }
    const contact = this.contacts.find((c) => c.id === conversation!.contact_id)!;
    const sender = this.#senderData(message, contact);
    return json({
      id: message.id,
      content: message.content,
      message_type: message.message_type,
      content_type: message.content_type,
      content_attributes: message.content_attributes,
      created_at: message.created_at,
      conversation_id: message.conversation_id,
      ...(sender ? { sender } : {}),
    });
  }

  #createMessage(conversationId: number, b: Record<string, unknown>): Response {
    const conversation = this.conversations.find((c) => c.id === conversationId);
    if (!conversation) return json({ error: "Resource could not be found" }, 404);
    const type = typeof b.message_type === "string" ? b.message_type : "outgoing";
    if (!["incoming", "outgoing"].includes(type)) {
      return json({ status: 500, error: "Internal Server Error" }, 500);
    }
    const content = typeof b.content === "string" ? b.content : "";
    if (content.length > 150_000) {
      return json({ error: "Validation failed: Content is too long" }, 422);
    }
    const incoming = type === "incoming";
    const attributes = typeof b.content_attributes === "string"
      ? JSON.parse(b.content_attributes)
      : (b.content_attributes ?? {}) as Record<string, unknown>;
    // Chatwoot resolves a reply by id or by the replied message's source_id, and stores both.
    const repliedTo = attributes.in_reply_to || attributes.in_reply_to_external_id
      ? this.messagesIn(conversationId).find((m) =>
        m.id === attributes.in_reply_to ||
        (attributes.in_reply_to_external_id && m.source_id === attributes.in_reply_to_external_id)
      )
      : undefined;
    const files = (b as { files?: FakeAttachment[] }).files ?? [];
    if (files.length > 15) return json({ error: "Validation failed: Too many attachments" }, 422);
    const message = this.#addMessage(conversation, {
      content,
      message_type: incoming ? 0 : 1,
      private: b.private === true,
      source_id: typeof b.source_id === "string" ? b.source_id : null,
      sender_type: incoming ? "Contact" : "User",
      sender_id: incoming ? conversation.contact_id : AGENT.id,
    });
    if (repliedTo) {
      message.content_attributes = {
        in_reply_to: repliedTo.id,
        in_reply_to_external_id: repliedTo.source_id,
      };
    }
    if (files.length) message.attachments = files;
    // An incoming message reopens a resolved or snoozed API conversation.
    if (incoming && ["resolved", "snoozed"].includes(conversation.status)) {
      conversation.status = "open";
    }
    return json(this.#messageJson(message));
  }

  #updateMessage(conversationId: number, messageId: number, b: Record<string, unknown>): Response {
    const message = this.messages.find((m) =>
      m.id === messageId && m.conversation_id === conversationId
    );
    if (!message) return json({ error: "Resource could not be found" }, 404);
    if (this.inbox.channel_type !== "Channel::Api") {
      return json({ error: "Message status update is only allowed for API inboxes" }, 403);
    }
    const status = typeof b.status === "string" ? b.status : "";
    // An invalid status is silently ignored, and `read` never goes back to `delivered`.
    if (["sent", "delivered", "read", "failed"].includes(status)) {
      if (!(message.status === "read" && status === "delivered")) message.status = status;
    }
    if (typeof b.external_error === "string") {
      message.content_attributes = {
        ...message.content_attributes,
        external_error: b.external_error,
      };
    }
    return json(this.#messageJson(message));
  }

  #getConversation(conversationId: number): Response {
    const conversation = this.conversations.find((c) => c.id === conversationId);
    if (!conversation) return json({ error: "Resource could not be found" }, 404);
    return json(this.#conversationJson(conversation));
  }

  #toggleStatus(conversationId: number, b: Record<string, unknown>): Response {
    const conversation = this.conversations.find((c) => c.id === conversationId);
    if (!conversation) return json({ error: "Resource could not be found" }, 404);
    const requested = typeof b.status === "string"
      ? b.status
      : conversation.status === "open"
      ? "resolved"
      : "open";
    if (!["open", "resolved", "pending", "snoozed"].includes(requested)) {
      return json({ status: 500, error: "Internal Server Error" }, 500);
    }
    const payloads = this.setStatus(conversationId, requested as FakeConversation["status"]);
    if (this.autoWebhooks) void this.#deliverAll(payloads);
    return json({
      payload: {
        success: true,
        conversation_id: conversationId,
        current_status: requested,
        snoozed_until: null,
      },
    });
  }

  /**
   * Changes a conversation's status as an agent would, returning the webhooks
   * Chatwoot sends for it: `conversation_updated` (with changed_attributes),
   * `conversation_status_changed` (changed_attributes null) and, when a
   * conversation is resolved in an inbox with CSAT on, its survey message.
   */
  setStatus(conversationId: number, status: FakeConversation["status"]): Record<string, unknown>[] {
    const conversation = this.conversations.find((c) => c.id === conversationId)!;
    const previous = conversation.status;
    if (previous === status) return [];
    conversation.status = status;
    const updatedAt = Date.now() / 1000;
    const data = this.#conversationWebhookData(conversation);
    const payloads: Record<string, unknown>[] = [
      {
        ...data,
        updated_at: updatedAt,
        event: "conversation_updated",
        changed_attributes: [
          { status: { previous_value: previous, current_value: status } },
          { updated_at: { previous_value: null, current_value: new Date().toISOString() } },
        ],
      },
      {
        ...data,
        updated_at: updatedAt,
        event: "conversation_status_changed",
        changed_attributes: null,
      },
    ];
    const hasSurvey = this.messagesIn(conversationId).some((m) => m.content_type === "input_csat");
    if (status === "resolved" && this.inbox.csat_survey_enabled && !hasSurvey) {
      const survey = this.#addMessage(conversation, {
        content: "Please rate the conversation",
        message_type: 3,
        private: false,
        source_id: null,
        sender_type: null,
        sender_id: null,
      });
      survey.content_type = "input_csat";
      survey.content_attributes = { display_type: "emoji" };
      const payload = this.messageCreatedPayload(survey);
      // The webhook's content carries the survey link (message_content_presenter.rb).
      payload.content =
        `Please rate the conversation ${this.baseUrl}/survey/responses/${conversation.uuid}`;
      payloads.push(payload);
    }
    return payloads;
  }

  async #deliverAll(payloads: Record<string, unknown>[]) {
    for (const payload of payloads) {
      const res = await this.deliver(payload).catch(() => undefined);
      this.autoDeliveries.push({ event: String(payload.event), status: res?.status ?? 0 });
    }
  }

  #csatSurvey(method: string, uuid: string, body: unknown): Response {
    const conversation = this.conversations.find((c) => c.uuid === uuid);
    const survey = conversation &&
      this.messagesIn(conversation.id).find((m) => m.content_type === "input_csat");
    if (!survey) return json({ status: 404, error: "Not Found" }, 404);
    if (method === "GET") return json({ id: survey.id, conversation_id: conversation.id });
    if (method !== "PUT" && method !== "PATCH") {
      return json({ status: 404, error: "Not Found" }, 404);
    }
    if (this.csatClosed) {
      return json({ error: "You cannot update the CSAT survey after 14 days" }, 422);
    }
    const r = (body as {
      message?: {
        submitted_values?: {
          csat_survey_response?: { rating?: number; feedback_message?: string };
        };
      };
    })?.message?.submitted_values?.csat_survey_response;
    this.csatResponses.push({
      uuid,
      rating: Number(r?.rating),
      feedback: r?.feedback_message ?? "",
    });
    survey.content_attributes = { ...survey.content_attributes, submitted_values: r };
    return json({ id: survey.id, conversation_id: conversation.id });
  }

  /**
   * Chatwoot's MessageFinder: the last 20; `after=<id>`: up to 100 after it; `before=<id>`: up
   * to 20 before it; ascending. Each with its sender in push format (no agent email).
   */
  #listMessages(conversationId: number, q: URLSearchParams): Response {
    const conversation = this.conversations.find((c) => c.id === conversationId);
    if (!conversation) return json({ error: "Resource could not be found" }, 404);
    const all = this.messagesIn(conversationId);
    const after = q.get("after");
    const before = q.get("before");
    const list = after !== null
      ? all.filter((m) => m.id > Number(after)).slice(0, 100)
      : before !== null
      ? all.filter((m) => m.id < Number(before)).slice(-20)
      : all.slice(-20);
    this.messagePages++;
    return json({
      meta: {},
      payload: list.map((m) => ({
        ...this.#messageJson(m),
        sender: this.#pushSender(m),
        ...(m.attachments?.length
          ? {
            attachments: m.attachments.map((a) => ({
              id: a.id,
              data_url: `${this.baseUrl}/rails/active_storage/blobs/redirect/blob${a.id}/${
                encodeURIComponent(a.name)
              }`,
            })),
          }
          : {}),
      })),
    });
  }

  /** Messages list reads answered (each page counts). */
  messagePages = 0;

  #pushSender(m: FakeMessage) {
    const conversation = this.conversations.find((c) => c.id === m.conversation_id)!;
    const contact = this.contacts.find((c) => c.id === conversation.contact_id)!;
    if (m.sender_type === "User") {
      return {
        id: AGENT.id,
        name: AGENT.name,
        available_name: "Bob",
        avatar_url: "",
        type: "user",
        availability_status: "online",
        thumbnail: "",
      };
    }
    if (m.sender_type === "AgentBot") return { ...AGENT_BOT, type: "agent_bot" };
    if (m.sender_type === "Contact") return { ...this.#contactJson(contact), type: "contact" };
    return undefined;
  }

  #getInbox(id: number): Response {
    if (id !== this.inboxId) return json({ error: "Resource could not be found" }, 404);
    return json({ ...this.inbox });
  }

  // ------------------------------------------------------------ state helpers

  #addContactInbox(contactId: number, sourceId: string): FakeContactInbox {
    const ci: FakeContactInbox = {
      id: ++this.#ids.contactInbox,
      contact_id: contactId,
      inbox_id: this.inboxId,
      source_id: sourceId,
      created_at: new Date().toISOString(),
    };
    this.contactInboxes.push(ci);
    return ci;
  }

  #addMessage(
    conversation: FakeConversation,
    fields: Pick<
      FakeMessage,
      "content" | "message_type" | "private" | "source_id" | "sender_type" | "sender_id"
    >,
  ): FakeMessage {
    const now = Math.floor(Date.now() / 1000);
    const message: FakeMessage = {
      id: ++this.#ids.message,
      conversation_id: conversation.id,
      content_type: "text",
      content_attributes: {},
      status: "sent",
      created_at: now,
      ...fields,
    };
    this.messages.push(message);
    conversation.last_activity_at = now;
    return message;
  }

  #inboxBrief() {
    return {
      id: this.inboxId,
      avatar_url: "",
      channel_id: this.inbox.channel_id,
      name: this.inbox.name,
      channel_type: this.inbox.channel_type,
      provider: null,
    };
  }

  #contactJson(c: FakeContact) {
    return {
      additional_attributes: c.additional_attributes,
      availability_status: "offline",
      email: c.email,
      id: c.id,
      name: c.name,
      phone_number: c.phone_number,
      blocked: c.blocked,
      identifier: c.identifier,
      thumbnail: "",
      custom_attributes: c.custom_attributes,
      last_activity_at: c.last_activity_at,
      created_at: c.created_at,
      contact_inboxes: this.contactInboxes.filter((ci) => ci.contact_id === c.id).map((ci) => ({
        source_id: ci.source_id,
        inbox: this.#inboxBrief(),
      })),
    };
  }

  #contactWebhookData(c: FakeContact) {
    return {
      account: { id: this.accountId, name: "Acme Support" },
      additional_attributes: c.additional_attributes,
      avatar: "",
      custom_attributes: c.custom_attributes,
      email: c.email,
      id: c.id,
      identifier: c.identifier,
      name: c.name,
      phone_number: c.phone_number,
      thumbnail: "",
      blocked: c.blocked,
    };
  }

  /** A message's sender in push format: agent, agent bot, contact, or null for templates. */
  #senderData(m: FakeMessage, contact: FakeContact) {
    if (m.sender_type === "User") return { ...AGENT, type: "user" };
    if (m.sender_type === "AgentBot") return { ...AGENT_BOT, type: "agent_bot" };
    if (m.sender_type === "Contact") return this.#contactWebhookData(contact);
    return null;
  }

  /** Team#push_event_data, or null. */
  #team(c: FakeConversation) {
    return c.team_id === null
      ? null
      : { id: c.team_id, name: this.teams.get(c.team_id) ?? `Team ${c.team_id}` };
  }

  #messageJson(m: FakeMessage) {
    return {
      id: m.id,
      content: m.content,
      inbox_id: this.inboxId,
      conversation_id: m.conversation_id,
      message_type: m.message_type,
      content_type: m.content_type,
      status: m.status,
      content_attributes: m.content_attributes,
      created_at: m.created_at,
      private: m.private,
      source_id: m.source_id,
    };
  }

  #conversationJson(c: FakeConversation) {
    const contact = this.contacts.find((x) => x.id === c.contact_id)!;
    const last = this.messagesIn(c.id).filter((m) => m.message_type !== 2 && !m.private).at(-1);
    return {
      meta: {
        sender: { ...this.#contactJson(contact), type: "contact" },
        channel: "Channel::Api",
        ...(c.team_id !== null ? { team: this.#team(c) } : {}),
        hmac_verified: false,
      },
      id: c.id,
      messages: last ? [this.#messageJson(last)] : [],
      account_id: this.accountId,
      uuid: c.uuid,
      additional_attributes: c.additional_attributes,
      agent_last_seen_at: 0,
      assignee_last_seen_at: 0,
      can_reply: true,
      contact_last_seen_at: 0,
      custom_attributes: c.custom_attributes,
      inbox_id: c.inbox_id,
      labels: [...c.labels],
      muted: false,
      snoozed_until: null,
      status: c.status,
      created_at: c.created_at,
      updated_at: c.last_activity_at + 0.5,
      timestamp: c.last_activity_at,
      first_reply_created_at: 0,
      unread_count: 0,
      last_activity_at: c.last_activity_at,
      priority: c.priority,
      waiting_since: 0,
    };
  }

  #conversationWebhookData(c: FakeConversation) {
    const contact = this.contacts.find((x) => x.id === c.contact_id)!;
    const ci = this.contactInboxes.find((x) => x.id === c.contact_inbox_id)!;
    return {
      additional_attributes: c.additional_attributes,
      can_reply: true,
      channel: "Channel::Api",
      contact_inbox: {
        id: ci.id,
        contact_id: ci.contact_id,
        inbox_id: ci.inbox_id,
        source_id: ci.source_id,
        created_at: ci.created_at,
        updated_at: ci.created_at,
        hmac_verified: false,
        pubsub_token: "fakePubsubToken",
      },
      id: c.id,
      inbox_id: c.inbox_id,
      messages: [],
      labels: [...c.labels],
      meta: {
        sender: { ...this.#contactWebhookData(contact), type: "contact" },
        assignee: null,
        assignee_type: null,
        team: this.#team(c),
        hmac_verified: false,
      },
      status: c.status,
      custom_attributes: c.custom_attributes,
      snoozed_until: null,
      unread_count: 0,
      first_reply_created_at: null,
      priority: c.priority,
      waiting_since: 0,
      agent_last_seen_at: 0,
      contact_last_seen_at: 0,
      last_activity_at: c.last_activity_at,
      timestamp: c.last_activity_at,
      created_at: c.created_at,
      updated_at: c.last_activity_at + 0.5,
      account: { id: this.accountId, name: "Acme Support" },
    };
  }
}

export async function hmacHex(secret: string, data: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(data)));
  return [...sig].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Multipart message create: fields as strings, `attachments[]` as files under `files`. */
async function readMultipart(req: Request): Promise<Record<string, unknown>> {
  const form = await req.formData();
  const fields: Record<string, unknown> = {};
  const files: Omit<FakeAttachment, "id">[] = [];
  for (const [key, value] of form.entries()) {
    if (key === "attachments[]" && value instanceof File) {
      files.push({
        name: value.name,
        contentType: value.type,
        bytes: new Uint8Array(await value.arrayBuffer()),
      });
    } else fields[key] = String(value);
  }
  if (fields.private !== undefined) fields.private = fields.private === "true";
  return { ...fields, files };
}

function json(value: unknown, status = 200): Response {
  return Response.json(value, { status });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Rails' permitted scalars (strings, numbers, booleans, null); anything else is dropped. */
function isScalar(v: unknown): boolean {
  return v === null || ["string", "number", "boolean"].includes(typeof v);
}

/**
 * Chatwoot's strong parameters for an answer:
 * `submitted_values: [:name, :title, :value, {csat_survey_response: [:feedback_message, :rating]}]`.
 * That filter takes one hash or an array of hashes (other entries are dropped);
 * anything else, or no key at all, permits nothing (undefined: no update).
 */
function permitSubmittedValues(v: unknown): unknown {
  const entry = (e: Record<string, unknown>) => {
    const kept: Record<string, unknown> = {};
    for (const key of ["name", "title", "value"]) {
      if (key in e && isScalar(e[key])) kept[key] = e[key];
    }
    if (isPlainObject(e.csat_survey_response)) {
      const r = e.csat_survey_response;
      const csat: Record<string, unknown> = {};
      for (const key of ["feedback_message", "rating"]) {
        if (key in r && isScalar(r[key])) csat[key] = r[key];
      }
      kept.csat_survey_response = csat;
    }
    return kept;
  };
  if (Array.isArray(v)) return v.filter(isPlainObject).map(entry);
  if (isPlainObject(v)) return entry(v);
  return undefined;
}

/** Item keys Chatwoot's ContentAttributeValidator allows, by content type. */
const ITEM_KEYS: Record<string, string[]> = {
  input_select: ["title", "value"],
  cards: ["title", "description", "media_url", "actions"],
  form: [
    "type",
    "placeholder",
    "label",
    "name",
    "options",
    "default",
    "required",
    "pattern",
    "title",
    "pattern_error",
  ],
  article: ["title", "description", "link"],
};
const CARD_ACTION_KEYS = ["text", "type", "payload", "uri"];

/**
 * Why Chatwoot would refuse these content attributes (422), or undefined. Like
 * the validator, only key names are checked, never values.
 */
function interactiveProblem(contentType: string, attributes: Record<string, unknown>) {
  const allowed = ITEM_KEYS[contentType];
  if (!allowed) return undefined;
  const items = attributes.items;
  if (!Array.isArray(items) || items.length === 0) return `${contentType} items can't be blank`;
  if (!items.every(isPlainObject)) return `${contentType} items must be hashes`;
  for (const item of items) {
    const extra = Object.keys(item).filter((k) => !allowed.includes(k));
    if (extra.length) return `${contentType} item has unknown keys ${extra.join(", ")}`;
    if (contentType === "cards") {
      const actions = item.actions;
      if (!Array.isArray(actions) || actions.length === 0) {
        return "cards contains items missing actions";
      }
      for (const action of actions) {
        if (!isPlainObject(action)) return "cards action must be a hash";
        const bad = Object.keys(action).filter((k) => !CARD_ACTION_KEYS.includes(k));
        if (bad.length) return `cards action has unknown keys ${bad.join(", ")}`;
      }
    }
  }
  return undefined;
}

function notFound(): Response {
  return json({ error: "Resource could not be found" }, 404);
}
