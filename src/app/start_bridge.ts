/**
 * The composition root: builds every service from the configuration, starts
 * them (HTTP, mailboxes, schedules, gateway) and stops them in order.
 * `startBridge` is the same wiring the tests start against the fakes.
 */
import { askForRating, type CsatSubmission, submitRating } from "../bridge/csat.ts";
import { type DmDeletion, type DmEdit, forwardDmChange } from "../bridge/dm_changes.ts";
import { describeError } from "../bridge/errors.ts";
import { type DmProgress, forwardDm, type InboundDm, scheduleOf } from "../bridge/inbound.ts";
import {
  acceptDm,
  acceptDmChange,
  acceptMessageEvent,
  createSequence,
  senderAllowed,
} from "../bridge/intake.ts";
import type { NoticeEmbed, OutboundNotice } from "../bridge/notices.ts";
import {
  type AgentAlertItem,
  alertAgent,
  deliveryStatusFor,
  type DeliveryStatusItem,
  reportDeliveryStatus,
  tellSender,
} from "../bridge/undelivered.ts";
import {
  type CsatPromptItem,
  deleteAgentMessage,
  dmChannelFor,
  type OutboundDeletion,
  type OutboundReply,
  relayReply,
  type ReplyProgress,
  sendNotice,
} from "../bridge/outbound.ts";
import type { AttachmentMemory, Logger, MailboxAppend } from "../bridge/ports.ts";
import { applyStatusEvent } from "../bridge/status_events.ts";
import { createAgentTypingRelay, createUserTypingRelay } from "../bridge/typing.ts";
import { type ChatwootMessageEvent, discordUserOf } from "../bridge/webhook_routing.ts";
import { isOpenAt } from "../bridge/working_hours.ts";
import { createChatwootClient } from "../chatwoot/client.ts";
import { createSignatureVerifier } from "../chatwoot/webhook.ts";
import type { Config } from "../config.ts";
import { parseDm, parseDmDelete, parseDmEdit, parseDmTyping } from "../discord/dm_events.ts";
import { renderEmbed } from "../discord/embeds.ts";
import { createDiscordBot } from "../discord/gateway.ts";
import { createInteractionVerifier } from "../discord/interaction_signature.ts";
import { handleInteraction } from "../discord/interactions.ts";
import { presenceCronSchedule, updatePresence } from "../discord/presence.ts";
import type { GatewayTimings } from "../discord/reconnect_policy.ts";
import { createDiscordRest } from "../discord/rest_port.ts";
import { createHttpApp } from "../http/app.ts";
import { serveHttp } from "../http/server.ts";
import { Metrics } from "../http/metrics.ts";
import { type GatewayLeadership, holdGatewayLeadership } from "../jobs/gateway_leader.ts";
import { type CompletionRecord, Mailboxes } from "../jobs/mailbox.ts";
import { createMemoryBudget } from "../jobs/memory_budget.ts";
import { assessHealth, ServiceHealth } from "../jobs/service_health.ts";
import { catchUpMissedDms, reconcileMissedReplies } from "../jobs/recovery.ts";
import { inlineWakeups, kvHasQueues, queueWakeups } from "../jobs/wakeups.ts";
import { configuredPlugins, createEnricher } from "../plugins/registry.ts";
import { StartupFailure } from "../startup_failure.ts";
import { createConversationStore } from "../store/conversations.ts";
import { createCsatStore } from "../store/csat.ts";
import { createInboxSettingsCache } from "../store/inbox_settings.ts";
import { keys } from "../store/keys.ts";
import { createMessageLinks, LINK_TTL_MS } from "../store/links.ts";
import { openKv } from "../store/open_kv.ts";
import { createTicketStore } from "../store/tickets.ts";

import { loggerFor } from "./logger.ts";
import { type ScheduledJob, SCHEDULES } from "./schedules.ts";
import { VERSION } from "../version.ts";

export interface BridgeOptions {
  /** Use this KV instead of opening KV_PATH (tests pass a `:memory:` one). */
  kv?: Deno.Kv;
  fetch?: typeof fetch;
  log?: Logger;
  /** Gateway reconnection timings (tests shrink them); defaults in reconnect_policy.ts. */
  gatewayTimings?: Partial<GatewayTimings>;
  /** Shorter timings for tests (the defaults are production's). */
  timings?: {
    /** Interval of the probe of a failing service. */
    probeMs?: number;
    mailboxLeaseMs?: number;
    /** Delay before retry number `attempts`. */
    retryDelayMs?: (attempts: number) => number;
  };
  /** The attachment memory budget (default: ATTACHMENT_MEMORY_MB's); tests pass an instrumented one. */
  attachmentMemory?: AttachmentMemory;
}

export interface RunningBridge {
  /** The port the HTTP server listens on (useful with WEBHOOK_PORT=0). */
  port: number;
  kv: Deno.Kv;
  mailboxes: Mailboxes;
  /** Resolves when the bridge must end on its own: a fatal Discord error. */
  fatal: Promise<string>;
  /** Runs the Chatwoot health check now (the cron runs it every minute). */
  checkChatwoot(): Promise<void>;
  /** Sets the bot's presence from the working hours now (the cron runs it periodically). */
  refreshPresence(): Promise<void>;
  /** Looks for agent messages whose webhook never came (the cron runs it every 5 minutes). */
  reconcile(): Promise<{ conversations: number; apiCalls: number; queued: number }>;
  /** Reads recent DM channels for DMs sent while the gateway was away (runs on every READY). */
  catchUpMissedDms(): Promise<unknown>;
  /** Runs a scheduled job now (Deno Deploy's top-level crons call this). */
  runScheduled(job: ScheduledJob): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startBridge(
  config: Config,
  options: BridgeOptions = {},
): Promise<RunningBridge> {
  const log = options.log ?? loggerFor(config);
  const ownsKv = !options.kv;
  const kv = options.kv ?? await openKv(config.kvPath);
  const fatal = Promise.withResolvers<string>();
  const crons = new AbortController();
  const nextSeq = createSequence();

  const chatwoot = createChatwootClient({
    baseUrl: config.chatwootBaseUrl,
    accountId: config.chatwootAccountId,
    inboxId: config.chatwootInboxId,
    apiToken: config.chatwootApiToken,
    fetch: options.fetch,
    attachmentOrigins: config.attachmentAllowedOrigins,
  });
  const tickets = createTicketStore(kv);
  const links = createMessageLinks(kv);
  const conversations = createConversationStore(kv);
  const csat = createCsatStore(kv);
  const inbox = createInboxSettingsCache({ kv, chatwoot, inboxId: config.chatwootInboxId, log });
  const enrich = createEnricher(configuredPlugins(config.plugins, options.fetch), log);

  // Created before the gateway so that no DM or interaction can arrive before it exists.
  let mailboxes: Mailboxes | undefined = undefined;
  const mailbox = { append: (request: MailboxAppend) => mailboxes!.append(request) };
  const commandDeps = {
    chatwoot,
    tickets,
    conversations,
    reopenWindowHours: config.lifecycle.reopenWindowHours,
    lockToSingleConversation: async () => (await inbox.get()).lockToSingleConversation,
    log,
  };
  let refreshPresence = async () => {};
  let catchUp = (): Promise<unknown> => Promise.resolve(undefined);
  const discord = createDiscordBot({
    config,
    log,
    timings: options.gatewayTimings,
    onEvent: async (name, raw) => {
      switch (name) {
        case "MESSAGE_CREATE": {
          const dm = parseDm(raw, config.discordBotId, Date.now(), config.discordCdnUrl);
          if (!dm) return;
          if (!senderAllowed(config.allowFrom, dm.author)) {
            log.debug("dm ignored: sender not in ALLOW_FROM", { discordUserId: dm.author.id });
            return;
          }
          await acceptDm({ mailbox, log }, dm);
          return;
        }
        case "MESSAGE_UPDATE": {
          const edit = parseDmEdit(raw, config.discordBotId);
          if (edit) {
            await acceptDmChange({ mailbox, log }, {
              kind: "dm_edit",
              ...edit,
              receivedAt: Date.now(),
            });
          }
          return;
        }
        case "MESSAGE_DELETE": {
          const deleted = parseDmDelete(raw);
          const userId = deleted && await tickets.userForDmChannel(deleted.channelId);
          if (deleted && userId) {
            await acceptDmChange({ mailbox, log }, {
              kind: "dm_delete",
              ...deleted,
              userId,
              receivedAt: Date.now(),
            });
          }
          return;
        }
        case "TYPING_START": {
          const typing = parseDmTyping(raw);
          if (typing && await tickets.userForDmChannel(typing.channelId) === typing.userId) {
            userTyping.userTyping(typing.userId);
          }
          return;
        }
      }
    },
    onInteraction: (raw) => handleInteraction(interactionDeps(), raw),
    onReady: () => {
      void refreshPresence();
      // Every (re)identify may have missed DMs: Discord replays only within a resumed session.
      catchUp().catch((error) =>
        log.warn("missed DM catch-up failed", { error: describeError(error) })
      );
    },
    onFatal: (explanation) => fatal.resolve(explanation),
  });
  const discordRest = createDiscordRest(discord.bot, config.branding, options.fetch, undefined, {
    cdnOrigins: [new URL(config.discordCdnUrl).origin],
  });
  const interactionDeps = () => ({
    bot: discord.bot,
    ticketCommand: config.ticketCommand,
    acceptCommandMessage: async (dm: InboundDm) => {
      if (!senderAllowed(config.allowFrom, dm.author)) return false;
      return await acceptDm({ mailbox, log }, dm);
    },
    commands: commandDeps,
    csat,
    csatTexts: config.csat,
    mailbox,
    branding: config.branding,
    log,
  });
  const userTyping = createUserTypingRelay({
    log,
    async send(userId, on) {
      const ticket = await tickets.get(userId);
      const { inboxIdentifier } = await inbox.get();
      if (ticket?.conversationId === undefined || !inboxIdentifier) return;
      await chatwoot.toggleContactTyping(
        inboxIdentifier,
        ticket.sourceId,
        ticket.conversationId,
        on,
      );
    },
  });
  const agentTyping = createAgentTypingRelay({
    log,
    type: async (userId) =>
      await discordRest.startTyping(await dmChannelFor({ discord: discordRest, tickets }, userId)),
  });
  const replies = {
    async editReply(token: string, embed: NoticeEmbed) {
      await discord.bot.helpers.editOriginalInteractionResponse(token, {
        embeds: [renderEmbed(embed, config.branding)],
      });
    },
  };
  refreshPresence = async () => {
    if (!discord.isReady()) return;
    const open = isOpenAt(scheduleOf(await inbox.get()), Date.now());
    await updatePresence(discord.bot, open, config.presence).catch((error) =>
      log.warn("presence update failed", { error: describeError(error) })
    );
  };

  const attachmentMemory = options.attachmentMemory ??
    createMemoryBudget(config.attachmentMemoryBytes);
  const inboundDeps = {
    chatwoot,
    discord: discordRest,
    tickets,
    conversations,
    inbox,
    mailbox,
    links,
    maxUploadBytes: config.chatwootMaxUploadBytes,
    attachmentMemory,
    inboxId: config.chatwootInboxId,
    reopenWindowHours: config.lifecycle.reopenWindowHours,
    texts: config.lifecycle,
    confirmEmoji: config.confirmEmoji,
    enrich,
    nextSeq,
    log,
  };
  const outboundDeps = {
    discord: discordRest,
    tickets,
    csat,
    chatwoot,
    links,
    maxUploadBytes: config.discordMaxUploadBytes,
    attachmentMemory,
    texts: config.csat,
    log,
  };

  const metrics = new Metrics();
  const recentMs = config.reconcileWindowHours * 3600_000;
  /** Written with a finished item: the message link both ways, and the conversation's activity. */
  const linkRecords = (
    chatwootMessageId: number,
    discordMessageIds: string[],
    conversationId: number,
    userId: string,
  ): CompletionRecord[] => [
    ...(discordMessageIds.length
      ? [{
        key: keys.linkFromChatwoot(chatwootMessageId),
        value: discordMessageIds,
        expireIn: LINK_TTL_MS,
      }]
      : []),
    ...discordMessageIds.map((id) => ({
      key: keys.linkFromDiscord(id),
      value: chatwootMessageId,
      expireIn: LINK_TTL_MS,
    })),
    {
      key: keys.recentConversation(conversationId),
      value: { userId, at: Date.now() },
      expireIn: recentMs,
    },
  ];
  // KV Connect and Deno Deploy have no queues, and an HTTP-only bridge need not wait on one:
  // there the mailboxes are drained inline, retried on timers, and swept every minute.
  const wakeups = config.discordGateway && !config.onDeploy && kvHasQueues(config.kvPath)
    ? queueWakeups(kv)
    : inlineWakeups();
  const health = new ServiceHealth({
    checks: {
      chatwoot: async () => await inbox.remember(await chatwoot.getInbox()),
      discord: () => discordRest.checkAccess(),
      storage: async () => void await kv.get(keys.inboxSettings()),
    },
    onRecovered: (service) => mailboxes!.wakeWaitingOn(service),
    probeMs: options.timings?.probeMs ?? SERVICE_PROBE_MS,
    log,
    signal: crons.signal,
  });
  mailboxes = new Mailboxes({
    ...(options.timings?.mailboxLeaseMs ? { leaseMs: options.timings.mailboxLeaseMs } : {}),
    ...(options.timings?.retryDelayMs ? { retryDelayMs: options.timings.retryDelayMs } : {}),
    kv,
    wakeups,
    log,
    observer: {
      delivered(dir, entry) {
        const item = entry.item as { kind: string; receivedAt?: number };
        // Follow-ups (a status mark, an alert to the agents) are bookkeeping, not messages.
        if (item.kind === "delivery_status" || item.kind === "agent_alert") return;
        const direction = dir === "out" || item.kind === "notice" ? "to_discord" : "to_chatwoot";
        metrics.inc("cordwoot_messages_relayed_total", { direction, kind: item.kind });
        if (item.receivedAt) {
          metrics.observeLatency({ direction }, (Date.now() - item.receivedAt) / 1000);
        }
      },
      retrying(dir, failure) {
        if (failure.cause === "outage") health.reportOutage(failure.service, failure.reason);
        const direction = dir === "in" ? "to_chatwoot" : "to_discord";
        metrics.inc("cordwoot_retries_scheduled_total", { direction });
        metrics.inc("cordwoot_delivery_failures_total", {
          direction,
          reason: failure.cause === "outage" ? `${failure.service}_outage` : "item",
        });
      },
      dead(dir) {
        const direction = dir === "in" ? "to_chatwoot" : "to_discord";
        metrics.inc("cordwoot_delivery_failures_total", { direction, reason: "permanent" });
      },
    },
    tellSender,
    serviceAnswers: (service) => health.answers(service),
    deadLetterTtlMs: config.deadLetterDays * 24 * 3600_000,
    handlers: {
      in: async (userId, entry, checkpoint, attempt) => {
        const item = entry.item as
          | InboundDm
          | CsatSubmission
          | DmEdit
          | DmDeletion
          | OutboundNotice;
        // A user told that their message was not delivered (see undelivered.ts).
        if (item.kind === "notice") return await sendNotice(outboundDeps, item);
        if (item.kind === "csat_rating") {
          return await submitRating(
            { chatwoot, discord: discordRest, csat, replies, texts: config.csat, log },
            item,
          );
        }
        if (item.kind === "dm_edit" || item.kind === "dm_delete") {
          const posted = await forwardDmChange({ chatwoot, tickets, links, log }, item, attempt);
          return posted
            ? linkRecords(posted.chatwootMessageId, [], posted.conversationId, userId)
            : [];
        }
        const forwarded = await forwardDm(
          { ...inboundDeps, checkpoint: (p: DmProgress) => checkpoint({ ...p }) },
          item,
          entry.progress as DmProgress,
          attempt,
        );
        if (item.viaCommand) {
          await replies.editReply(
            item.viaCommand.interactionToken,
            forwarded
              ? {
                tone: "success",
                title: "Message sent",
                description: `Our team has it (ticket #${forwarded.conversationId}). ` +
                  "Answers arrive here in your DMs.",
              }
              : {
                tone: "warning",
                description: "Your message was not passed on; see the DM we sent you.",
              },
          )
            .catch((error) =>
              log.debug("could not answer the interaction", { error: String(error) })
            );
        }
        return [
          ...(item.channelId
            ? [
              {
                key: keys.recentDm(userId),
                value: { channelId: item.channelId, messageId: item.messageId, at: Date.now() },
                expireIn: recentMs,
              },
              { key: keys.dmChannelUser(item.channelId), value: userId },
              // Replies to a user who wrote first need no "open DM" request.
              { key: keys.dmChannel(userId), value: item.channelId },
            ]
            : []),
          ...(forwarded
            ? linkRecords(
              forwarded.chatwootMessageId,
              [item.messageId],
              forwarded.conversationId,
              userId,
            )
            : []),
        ];
      },
      out: async (_userId, entry, checkpoint, attempt) => {
        const item = entry.item as
          | OutboundReply
          | OutboundNotice
          | CsatPromptItem
          | OutboundDeletion
          | DeliveryStatusItem
          | AgentAlertItem;
        switch (item.kind) {
          case "delivery_status":
            return await reportDeliveryStatus(outboundDeps, item);
          case "agent_alert":
            return await alertAgent(outboundDeps, item);
          case "delete":
            return await deleteAgentMessage(outboundDeps, item);
          case "notice":
            return await sendNotice(outboundDeps, item);
          case "csat_prompt":
            return await askForRating(outboundDeps, item);
          case "reply": {
            agentTyping.replied(item.discordUserId);
            const outcome = await relayReply(
              { ...outboundDeps, checkpoint: (p: ReplyProgress) => checkpoint({ ...p }) },
              item,
              entry.progress as ReplyProgress,
              attempt,
            );
            const sent = outcome.status === "delivered" && !item.segment
              ? outcome.discordMessageIds
              : [];
            // Marked delivered by an item of its own: a failing status update never resends.
            const markDelivered = outcome.status !== "undeliverable" && !item.segment;
            return [
              ...linkRecords(item.chatwootMessageId, sent, item.conversationId, item.discordUserId),
              ...(markDelivered ? [{ followUp: deliveryStatusFor(item) }] : []),
            ];
          }
        }
      },
    },
  });

  const checkChatwoot = async () => {
    await health.check("chatwoot");
  };

  if (!config.webhookSecret) {
    // Closed by default: only an explicit ALLOW_UNSIGNED_WEBHOOKS=true runs without a secret.
    if (!config.allowUnsignedWebhooks) {
      throw new StartupFailure(
        "WEBHOOK_SECRET is not set and ALLOW_UNSIGNED_WEBHOOKS is not true",
        "copy the webhook's secret from Chatwoot (Settings → Integrations → Webhooks) into WEBHOOK_SECRET",
      );
    }
    log.warn(
      "WEBHOOK_SECRET is not set and ALLOW_UNSIGNED_WEBHOOKS=true: webhook deliveries are " +
        "accepted without a signature check (for local trials only)",
    );
  }
  const verify = config.webhookSecret
    ? await createSignatureVerifier(config.webhookSecret)
    : undefined;
  const interactionVerifier = config.discordPublicKey
    ? await createInteractionVerifier(config.discordPublicKey)
    : undefined;
  /** True the first time an id is seen within a day (replayed deliveries are dropped). */
  const firstSeen = async (kind: string, id: string) => {
    const key = keys.seen(kind, id);
    const res = await kv.atomic().check({ key, versionstamp: null })
      .set(key, Date.now(), { expireIn: 24 * 3600_000 }).commit();
    return res.ok;
  };
  const scope = { inboxId: config.chatwootInboxId, accountId: config.chatwootAccountId };
  // deno-lint-ignore prefer-const -- assigned once the server is up, read by /healthz before
  let leadership: GatewayLeadership | undefined;
  /** off: HTTP only; standby: another instance holds the gateway; connecting; ready. */
  const gatewayState = () =>
    !config.discordGateway
      ? "off"
      : !leadership?.isLeader
      ? (leadership ? "standby" : "connecting")
      : discord.isReady()
      ? "ready"
      : "connecting";
  /** How the gateway connection is doing: attempts since it was last ready, why they failed. */
  const gatewayHealth = () => {
    const { attempts, lastError, lastErrorAt, nextAttemptAt, readySince } = discord.status();
    return { attempts, lastError, lastErrorAt, nextAttemptAt, readySince };
  };
  const acceptAgentMessage = (event: ChatwootMessageEvent, deliveryId?: string) =>
    acceptMessageEvent(
      {
        mailbox,
        log,
        nextSeq,
        scope: { ...scope, csatEnabled: config.csat.enabled },
      },
      event,
      deliveryId,
    );
  const reconcile = () =>
    reconcileMissedReplies({
      kv,
      chatwoot,
      tickets,
      inboxId: config.chatwootInboxId,
      windowHours: config.reconcileWindowHours,
      accept: acceptAgentMessage,
      log,
    });
  catchUp = () =>
    catchUpMissedDms({
      kv,
      discord: discordRest,
      windowHours: config.reconcileWindowHours,
      accept: (dm) => acceptDm({ mailbox, log }, dm),
      log,
    });
  const app = createHttpApp({
    log,
    metricsToken: config.metricsToken,
    verifySignature: verify,
    acceptMessageEvent: acceptAgentMessage,
    acceptContact: async (contact) => {
      const userId = discordUserOf({
        contactIdentifier: contact.identifier,
        contactSourceId: null,
      });
      if (
        !userId ||
        (contact.accountId !== undefined && contact.accountId !== config.chatwootAccountId)
      ) return;
      const ticket = await tickets.get(userId);
      if (ticket && (ticket.blocked ?? false) !== contact.blocked) {
        await tickets.save({ ...ticket, blocked: contact.blocked });
        log.info(
          contact.blocked ? "contact blocked in chatwoot" : "contact unblocked in chatwoot",
          {
            discordUserId: userId,
          },
        );
      }
    },
    acceptTyping: (event) => {
      const userId = discordUserOf(event);
      if (event.byAgent && event.inboxId === config.chatwootInboxId && userId) {
        agentTyping.agentTyping(userId, event.on);
      }
    },
    acceptStatusEvent: (event) =>
      applyStatusEvent({
        conversations,
        mailbox,
        texts: config.lifecycle,
        scope,
        nextSeq,
        log,
      }, event),
    countWebhook: (outcome) => metrics.inc("cordwoot_webhooks_total", { outcome }),
    firstDelivery: (deliveryId) =>
      // Longer is not a Chatwoot delivery id; there is nothing to dedupe on.
      deliveryId.length > 200 ? Promise.resolve(true) : firstSeen("delivery", deliveryId),
    metrics: async () => {
      const stats = await mailboxes!.stats();
      return metrics.render([
        { name: "cordwoot_mailbox_depth", help: "Items waiting in mailboxes.", value: stats.depth },
        {
          name: "cordwoot_mailbox_oldest_age_seconds",
          help: "Age of the oldest waiting item.",
          value: stats.oldestAgeMs / 1000,
        },
        {
          name: "cordwoot_mailboxes_retrying",
          help: "Mailboxes waiting to retry.",
          value: stats.retrying,
        },
        { name: "cordwoot_dead_letters", help: "Items that failed for good.", value: stats.dead },
        {
          name: "cordwoot_dead_letter_oldest_age_seconds",
          help: "Age of the oldest dead letter.",
          value: stats.oldestDeadAgeMs / 1000,
        },
        ...(["chatwoot", "discord", "storage"] as const).map((service) => ({
          name: `cordwoot_mailboxes_waiting_on_${service}`,
          help: `Mailboxes paused by an outage of ${service}.`,
          value: stats.waitingOn[service] ?? 0,
        })),
        {
          name: "cordwoot_discord_rest_ok",
          help: "1 unless Discord's REST API failed or refused the token.",
          value: health.status("discord").ok ? 1 : 0,
        },
        {
          name: "cordwoot_gateway_ready",
          help: "1 when the gateway is connected.",
          value: discord.isReady() ? 1 : 0,
        },
        {
          name: "cordwoot_chatwoot_ok",
          help: "1 when the last Chatwoot check passed.",
          value: health.status("chatwoot").ok ? 1 : 0,
        },
      ]);
    },
    interactions: interactionVerifier
      ? {
        verify: interactionVerifier,
        firstDelivery: (id) => firstSeen("interaction", id),
        handle: (raw, responded) => handleInteraction(interactionDeps(), raw, responded),
      }
      : undefined,
    health: async () => {
      const gateway = gatewayState();
      const stats = await mailboxes!.stats();
      const services = {
        chatwoot: health.status("chatwoot"),
        discord: health.status("discord"),
        storage: health.status("storage"),
      };
      const report = assessHealth({
        gatewayConnecting: gateway === "connecting",
        services,
        stats,
        maxItemAgeMs: config.healthMaxItemAgeMs,
      });
      return {
        ...report,
        version: VERSION,
        gateway: { state: gateway, ready: gateway === "ready", ...gatewayHealth() },
        chatwoot: services.chatwoot,
        discordRest: services.discord,
        storage: services.storage,
        mailboxes: { ...stats, wakeups: wakeups.mode },
      };
    },
  });

  // Deno Deploy's platform holds the connections; elsewhere server.ts bounds them in time.
  const server = config.onDeploy
    ? Deno.serve({
      port: config.webhookPort,
      hostname: config.webhookHost,
      onListen: () => {},
    }, app.fetch)
    : await serveHttp({
      port: config.webhookPort,
      hostname: config.webhookHost,
      handler: app.fetch,
      onError: (error) => log.error("request failed", { error: describeError(error) }),
    });
  log.info("http server listening", {
    host: config.webhookHost,
    port: server.addr.port,
    version: VERSION,
  });

  mailboxes.listen();
  const scheduled: Record<ScheduledJob, () => Promise<unknown>> = {
    "mailbox sweep": () => mailboxes!.sweep(),
    "chatwoot health": checkChatwoot,
    "reconcile": reconcile,
    "presence": () => refreshPresence(),
  };
  // On Deno Deploy the crons are registered at module top level (see the end of this file).
  if (!config.onDeploy) {
    for (const job of Object.keys(SCHEDULES) as ScheduledJob[]) {
      const schedule = job === "presence"
        ? presenceCronSchedule(config.presence.pollIntervalMs)
        : SCHEDULES[job];
      Deno.cron(`cordwoot ${job}`, schedule, { signal: crons.signal }, async () => {
        await scheduled[job]();
      });
    }
  }

  await Promise.all([checkChatwoot(), mailboxes.sweep()]);
  // Not awaited: start-up must not wait on a Chatwoot that may be down.
  reconcile().catch((error) => log.warn("reconciliation failed", { error: describeError(error) }));
  leadership = config.discordGateway
    ? holdGatewayLeadership({
      kv,
      instanceId: crypto.randomUUID(),
      // Retries on its own, without limit; a fatal failure resolves `fatal` (onFatal above).
      connect: () => discord.start(),
      disconnect: () => discord.disconnect(),
      log,
    })
    : undefined;

  let stopped = false;
  return {
    port: server.addr.port,
    kv,
    mailboxes,
    fatal: fatal.promise,
    checkChatwoot,
    refreshPresence: () => refreshPresence(),
    reconcile,
    catchUpMissedDms: () => catchUp(),
    runScheduled: (job) => scheduled[job](),
    async stop() {
      if (stopped) return;
      stopped = true;
      crons.abort();
      await leadership?.stop();
      userTyping.stop();
      agentTyping.stop();
      await discord.stop();
      await server.shutdown();
      await mailboxes!.stop();
      if (ownsKv) kv.close();
      log.info("stopped");
    },
  };
}

/** While a service fails, it is probed this often; its waiting mailboxes go as soon as it answers. */
const SERVICE_PROBE_MS = 2_000;
