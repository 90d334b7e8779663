/**
 * cordwoot's composition root and command line.
 *
 * The only file that reads the environment, opens KV, and wires and starts
 * things. `startBridge` is the same wiring the tests start against the fakes.
 */
import { dirname } from "node:path";
import denoJson from "./deno.json" with { type: "json" };
import { askForRating, type CsatSubmission, submitRating } from "./src/bridge/csat.ts";
import { type DmDeletion, type DmEdit, forwardDmChange } from "./src/bridge/dm_changes.ts";
import { describeError, ServiceError } from "./src/bridge/errors.ts";
import { type DmProgress, forwardDm, type InboundDm, scheduleOf } from "./src/bridge/inbound.ts";
import {
  acceptDm,
  acceptDmChange,
  acceptMessageEvent,
  createSequence,
  senderAllowed,
} from "./src/bridge/intake.ts";
import type { NoticeEmbed, OutboundNotice } from "./src/bridge/notices.ts";
import {
  type CsatPromptItem,
  deleteAgentMessage,
  dmChannelFor,
  type OutboundDeletion,
  type OutboundReply,
  relayReply,
  type ReplyProgress,
  sendNotice,
} from "./src/bridge/outbound.ts";
import type { Logger, MailboxAppend } from "./src/bridge/ports.ts";
import { applyStatusEvent } from "./src/bridge/status_events.ts";
import { createAgentTypingRelay, createUserTypingRelay } from "./src/bridge/typing.ts";
import { type ChatwootMessageEvent, discordUserOf } from "./src/bridge/webhook_routing.ts";
import { isOpenAt } from "./src/bridge/working_hours.ts";
import { createChatwootClient } from "./src/chatwoot/client.ts";
import { createSignatureVerifier } from "./src/chatwoot/webhook.ts";
import { checkConfig } from "./src/cli/check_config.ts";
import { runDemo } from "./src/cli/demo.ts";
import { type Config, loadConfig, mergeDotEnv, SECRET_VARIABLES } from "./src/config.ts";
import { registerCommands } from "./src/discord/commands.ts";
import { parseDm, parseDmDelete, parseDmEdit, parseDmTyping } from "./src/discord/dm_events.ts";
import { renderEmbed } from "./src/discord/embeds.ts";
import { toDiscordError } from "./src/discord/errors.ts";
import { createDiscordBot } from "./src/discord/gateway.ts";
import { createInteractionVerifier } from "./src/discord/interaction_signature.ts";
import { handleInteraction } from "./src/discord/interactions.ts";
import { presenceCronSchedule, updatePresence } from "./src/discord/presence.ts";
import { createDiscordRest } from "./src/discord/rest_port.ts";
import { createHttpApp } from "./src/http/app.ts";
import { Metrics } from "./src/http/metrics.ts";
import { type GatewayLeadership, holdGatewayLeadership } from "./src/jobs/gateway_leader.ts";
import { type CompletionRecord, Mailboxes } from "./src/jobs/mailbox.ts";
import { catchUpMissedDms, reconcileMissedReplies } from "./src/jobs/recovery.ts";
import { inlineWakeups, kvHasQueues, queueWakeups } from "./src/jobs/wakeups.ts";
import { createLogger } from "./src/log.ts";
import { configuredPlugins, createEnricher } from "./src/plugins/registry.ts";
import { createConversationStore } from "./src/store/conversations.ts";
import { createCsatStore } from "./src/store/csat.ts";
import { createInboxSettingsCache } from "./src/store/inbox_settings.ts";
import { keys } from "./src/store/keys.ts";
import { createMessageLinks, LINK_TTL_MS } from "./src/store/links.ts";
import { createTicketStore } from "./src/store/tickets.ts";

export const VERSION: string = denoJson.version;

export interface BridgeOptions {
  /** Use this KV instead of opening KV_PATH (tests pass a `:memory:` one). */
  kv?: Deno.Kv;
  fetch?: typeof fetch;
  log?: Logger;
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
  const discordRest = createDiscordRest(discord.bot, config.branding, options.fetch);
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

  const inboundDeps = {
    chatwoot,
    discord: discordRest,
    tickets,
    conversations,
    inbox,
    mailbox,
    links,
    maxUploadBytes: config.chatwootMaxUploadBytes,
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
  mailboxes = new Mailboxes({
    kv,
    wakeups,
    log,
    observer: {
      delivered(dir, entry) {
        const item = entry.item as { kind: string; receivedAt?: number };
        const direction = dir === "in" ? "to_chatwoot" : "to_discord";
        metrics.inc("cordwoot_messages_relayed_total", { direction, kind: item.kind });
        if (item.receivedAt) {
          metrics.observeLatency({ direction }, (Date.now() - item.receivedAt) / 1000);
        }
      },
      retrying(dir, error) {
        if (error instanceof ServiceError && error.service === "chatwoot") {
          probeUntilChatwootIsBack();
        }
        const direction = dir === "in" ? "to_chatwoot" : "to_discord";
        metrics.inc("cordwoot_retries_scheduled_total", { direction });
        metrics.inc("cordwoot_delivery_failures_total", {
          direction,
          reason: failureReason(error),
        });
      },
      dead(dir) {
        const direction = dir === "in" ? "to_chatwoot" : "to_discord";
        metrics.inc("cordwoot_delivery_failures_total", { direction, reason: "permanent" });
      },
    },
    handlers: {
      in: async (userId, entry, checkpoint, attempt) => {
        const item = entry.item as InboundDm | CsatSubmission | DmEdit | DmDeletion;
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
          | OutboundDeletion;
        switch (item.kind) {
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
            return linkRecords(
              item.chatwootMessageId,
              sent,
              item.conversationId,
              item.discordUserId,
            );
          }
        }
      },
    },
  });

  const chatwootHealth = {
    ok: false,
    checkedAt: null as string | null,
    error: null as string | null,
  };
  const checkChatwoot = async () => {
    try {
      await inbox.remember(await chatwoot.getInbox());
      chatwootHealth.ok = true;
      chatwootHealth.error = null;
    } catch (error) {
      chatwootHealth.ok = false;
      chatwootHealth.error = describeError(error);
      log.warn("chatwoot check failed", { error: chatwootHealth.error });
    }
    chatwootHealth.checkedAt = new Date().toISOString();
  };

  /**
   * While Chatwoot fails, read the inbox every 2 s; once it answers, every
   * mailbox waiting on it is retried at once instead of at its next backoff.
   */
  let probing = false;
  const probeUntilChatwootIsBack = () => {
    if (probing) return;
    probing = true;
    void (async () => {
      while (!crons.signal.aborted) {
        await sleep(CHATWOOT_PROBE_MS, crons.signal);
        if (crons.signal.aborted) break;
        await checkChatwoot();
        if (chatwootHealth.ok) {
          const woken = await mailboxes!.wakeRetrying();
          log.info("chatwoot is back; waiting mailboxes retried now", { mailboxes: woken });
          break;
        }
      }
      probing = false;
    })();
  };

  if (!config.webhookSecret) {
    log.warn(
      "WEBHOOK_SECRET is not set: webhook deliveries are accepted without a signature check",
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
  // Set once start-up is done; the HTTP server answers /healthz before that.
  let gatewayStarted: Promise<void> = Promise.resolve();
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
          name: "cordwoot_gateway_ready",
          help: "1 when the gateway is connected.",
          value: discord.isReady() ? 1 : 0,
        },
        {
          name: "cordwoot_chatwoot_ok",
          help: "1 when the last Chatwoot check passed.",
          value: chatwootHealth.ok ? 1 : 0,
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
      return {
        healthy: (gateway !== "connecting") && chatwootHealth.ok,
        version: VERSION,
        gateway: { state: gateway, ready: gateway === "ready" },
        chatwoot: { ...chatwootHealth },
        mailboxes: { ...await mailboxes!.stats(), wakeups: wakeups.mode },
      };
    },
  });

  const server = Deno.serve({
    port: config.webhookPort,
    hostname: config.webhookHost,
    onListen: () => {},
  }, app.fetch);
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
      connect: () => {
        gatewayStarted = startGateway(
          discord.start,
          log,
          (explanation) => fatal.resolve(explanation),
          crons.signal,
        );
      },
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
      // Discordeno's start() only settles after its spawnShardDelay; stopping need not wait for it.
      gatewayStarted.catch(() => {});
      await server.shutdown();
      await mailboxes!.stop();
      if (ownsKv) kv.close();
      log.info("stopped");
    },
  };
}

const CHATWOOT_PROBE_MS = 2_000;

/** The periodic jobs and their cron schedules (presence's comes from PRESENCE_POLL_INTERVAL_MS). */
export const SCHEDULES = {
  "mailbox sweep": "* * * * *",
  "chatwoot health": "* * * * *",
  "reconcile": "*/5 * * * *",
  "presence": "*/5 * * * *",
} as const;
export type ScheduledJob = keyof typeof SCHEDULES;

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const id = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(id);
      resolve();
    }, { once: true });
  });
}

/**
 * Connects the gateway in the background. A refused token ends the bridge; an
 * unreachable Discord is retried with growing delay.
 */
async function startGateway(
  start: () => Promise<void>,
  log: Logger,
  onFatal: (explanation: string) => void,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      await start();
      return;
    } catch (error) {
      if (signal.aborted) return;
      const failure = toDiscordError(error, "gateway connection");
      if (failure.status === 401) {
        onFatal("Discord rejected the bot token (HTTP 401): check DISCORD_TOKEN");
        return;
      }
      const delay = Math.min(60_000, 1_000 * 2 ** Math.min(attempt, 6));
      log.warn("discord gateway not reachable; retrying", {
        error: failure.message,
        retryInMs: delay,
      });
      await sleep(delay, signal);
    }
  }
}

function loggerFor(config: Config): Logger {
  return createLogger({
    level: config.logLevel,
    format: config.logFormat,
    secrets: [config.discordToken, config.chatwootApiToken, config.webhookSecret ?? ""],
  });
}

/** A short, label-safe reason for a failed attempt: the service and status, or "network". */
function failureReason(error: unknown): string {
  if (error instanceof ServiceError) {
    return error.status === 0 ? `${error.service}_unreachable` : `${error.service}_${error.status}`;
  }
  return "internal";
}

async function openKv(path: string): Promise<Deno.Kv> {
  if (path === "") return await Deno.openKv(); // the platform's database (Deno Deploy)
  if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
    await Deno.mkdir(dirname(path), { recursive: true });
  }
  return await Deno.openKv(path);
}

// ---------------------------------------------------------------- command line

const HELP = `cordwoot ${VERSION} — Discord ↔ Chatwoot support bridge

Usage: cordwoot [command]

Commands:
  serve               run the bridge (the default)
  register-commands   register the bot's slash commands with Discord
  check-config        check the configuration and every dependency, with fixes
  demo                watch the bridge work against built-in fakes (no accounts)
  --version           print the version
  --help              print this help

Configuration comes from the environment and from ./.env (variables already
set in the environment win). See README.md for every variable.

Exit codes: 0 stopped cleanly (or all checks passed), 1 fatal runtime error
(e.g. Discord refused the token) or a failed check, 2 invalid configuration.`;

function readEnvironment(): Record<string, string> {
  let text = "";
  try {
    text = Deno.readTextFileSync(".env");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return mergeDotEnv(Deno.env.toObject(), text);
}

function loadConfigOrExit(): Config {
  const result = loadConfig(readEnvironment());
  if (result.ok) return result.config;
  console.error(`cordwoot: invalid configuration (${result.problems.length} problem(s)):`);
  for (const problem of result.problems) console.error(`  - ${problem}`);
  console.error(`Secret values (${[...SECRET_VARIABLES].join(", ")}) are never printed.`);
  Deno.exit(2);
}

async function serve(): Promise<number> {
  const config = loadConfigOrExit();
  const log = loggerFor(config);
  let fatalSeen = false;
  // Discordeno throws from inside its socket close handler after a fatal close (explained by
  // then); anything else unhandled is logged rather than crashing the bridge.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    (fatalSeen ? log.debug : log.error)("unhandled rejection", {
      error: describeError(event.reason),
    });
  });
  const bridge = await startBridge(config, { log });
  deployedBridge = bridge;
  bridge.fatal.then(() => fatalSeen = true);
  const signalled = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => signalled.resolve(name);
  Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
  const ended = await Promise.race([
    signalled.promise.then((name) => ({ fatal: false, message: `received ${name}` })),
    bridge.fatal.then((message) => ({ fatal: true, message })),
  ]);
  if (ended.fatal) console.error(`cordwoot: ${ended.message}`);
  else log.info("shutting down", { reason: ended.message });
  await bridge.stop();
  return ended.fatal ? 1 : 0;
}

async function main(args: string[]): Promise<number> {
  const command = args[0] ?? "serve";
  switch (command) {
    case "serve":
      return await serve();
    case "register-commands":
      return await registerCommands(loadConfigOrExit());
    case "check-config":
      return await checkConfig(loadConfigOrExit());
    case "demo":
      return await runDemo(startBridge);
    case "--version":
    case "version":
      console.log(`cordwoot ${VERSION}`);
      return 0;
    case "--help":
    case "-h":
    case "help":
      console.log(HELP);
      return 0;
    default:
      console.error(`cordwoot: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

/**
 * Deno Deploy only runs crons declared at the module's top level (nested ones
 * are ignored there), so on Deploy they are declared here and call into the
 * running bridge. Without the gateway there is no presence to keep.
 */
let deployedBridge: RunningBridge | undefined;
if (Deno.env.get("DENO_DEPLOYMENT_ID")) {
  for (const job of ["mailbox sweep", "chatwoot health", "reconcile"] as const) {
    Deno.cron(`cordwoot ${job}`, SCHEDULES[job], async () => {
      await deployedBridge?.runScheduled(job);
    });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
