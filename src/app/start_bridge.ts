/**
 * The composition root, in three phases:
 *
 * 1. build: every adapter, store and use case is created from the
 *    configuration, each given what it needs when it is made. Nothing
 *    connects, listens or runs yet.
 * 2. start: the HTTP server listens (so /healthz answers during start-up),
 *    the mailboxes take wake-ups, the schedules run, Chatwoot is checked,
 *    waiting mailboxes are swept, and the gateway is competed for.
 * 3. stop: the reverse order; drains in flight get 10 s.
 *
 * `startBridge` is the same wiring the tests start against the fakes. The
 * HTTP surface is wired in http_surface.ts, the typing relays and the presence
 * in typing_and_presence.ts.
 */
import type { ChatwootMessageEvent } from "../bridge/webhook_events.ts";
import { describeError } from "../bridge/errors.ts";
import { acceptDm, acceptMessageEvent, createSequence } from "../bridge/intake.ts";
import type { AttachmentMemory, InteractionReplies, Logger, MailboxPort } from "../bridge/ports.ts";
import { tellSender } from "../bridge/undelivered.ts";
import type { Config } from "../config.ts";
import { renderEmbed, renderRows } from "../discord/embeds.ts";
import { handleInteraction, type InteractionDeps } from "../discord/interactions.ts";
import type { GatewayTimings } from "../discord/reconnect_policy.ts";
import type { RequestSchedulerSettings } from "../discord/request_scheduler.ts";
import { gatewayLeadership } from "../jobs/gateway_leader.ts";
import { createPatternSandbox } from "./pattern_sandbox.ts";
import { Mailboxes } from "../jobs/mailbox.ts";
import { catchUpMissedDms, reconcileMissedReplies } from "../jobs/recovery.ts";
import { nudgeStaleTickets } from "../bridge/nudges.ts";
import { sendTranscriptAfterClose } from "../bridge/transcript.ts";
import { ServiceHealth } from "../jobs/service_health.ts";
import { inlineWakeups, kvHasQueues, queueWakeups } from "../jobs/wakeups.ts";
import { keys } from "../store/keys.ts";
import { openKv } from "../store/open_kv.ts";
import { catchUpGate, gatewayEventRouter } from "./gateway_events.ts";
import { buildServices } from "./services.ts";
import { mailboxUseCases } from "./use_cases.ts";
import type { GatewayState } from "./health_report.ts";
import { buildHttpSurface, listenHttp, warnIfUnsigned } from "./http_surface.ts";
import { loggerFor } from "./logger.ts";
import { mailboxHandlers } from "./mailbox_dispatch.ts";
import { observeMailboxes } from "./mailbox_observer.ts";
import { registerCrons, type ScheduledJob, type ScheduledJobs } from "./schedules.ts";
import { presenceRefresher, typingRelays } from "./typing_and_presence.ts";

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
    /** The gateway leadership lease (several instances) and how often it is renewed. */
    leaderLeaseMs?: number;
    leaderRenewMs?: number;
    /** A user's typing is reported off after this long without a new TYPING_START. */
    userTypingIdleMs?: number;
    /** An agent's typing is renewed on Discord this often, for at most `agentTypingMaxMs`. */
    agentTypingRenewMs?: number;
    agentTypingMaxMs?: number;
    /** How long a contact plugin may take before the contact is created without it. */
    pluginTimeoutMs?: number;
    /** How long a new ticket waits for its topic (default TOPIC_TIMEOUT_MINUTES). */
    topicTimeoutMs?: number;
    /** How long an agent's reply waits for an answer before the check-in (NUDGE_AFTER_HOURS). */
    nudgeAfterMs?: number;
    /** How long replies go to a fallback thread before a DM is tried again (15 minutes). */
    dmRetryMs?: number;
    /** Deadline of a Discord REST request without files (default 15 s). */
    discordRequestMs?: number;
    /** The Discord request scheduler: budget per second, best-effort ages and queue cap. */
    discordRequests?: RequestSchedulerSettings;
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

/** While a service fails, it is probed this often; its waiting mailboxes go as soon as it answers. */
const SERVICE_PROBE_MS = 2_000;

export async function startBridge(
  config: Config,
  options: BridgeOptions = {},
): Promise<RunningBridge> {
  // ------------------------------------------------------------ build
  const log = options.log ?? loggerFor(config);
  warnIfUnsigned(config, log);
  const timings = options.timings ?? {};
  const ownsKv = !options.kv;
  const kv = options.kv ?? await openKv(config.kvPath, config.kvAccessToken);
  const fatal = Promise.withResolvers<string>();
  const running = new AbortController();
  const nextSeq = createSequence();
  const recentWindowMs = config.reconcileWindowHours * 3600_000;
  const nudgeAfterMs = config.lifecycle.nudgeAfterMs === undefined
    ? undefined
    : timings.nudgeAfterMs ?? config.lifecycle.nudgeAfterMs;

  const services = buildServices(config, {
    kv,
    log,
    fetch: options.fetch,
    gatewayTimings: options.gatewayTimings,
    discordRequestMs: timings.discordRequestMs,
    pluginTimeoutMs: timings.pluginTimeoutMs,
    discordRequests: timings.discordRequests,
    attachmentMemory: options.attachmentMemory,
    dmRetryMs: timings.dmRetryMs,
    onFatal: (explanation) => fatal.resolve(explanation),
  });
  const { chatwoot, discord, discordRest, tickets, conversations, csat, seen, recent, inbox } =
    services;
  const metrics = services.metrics;

  // Two genuine cycles are closed by closures over `mailboxes` (declared below, called only once
  // it exists, in the start phase): a service's recovery wakes the mailboxes waiting on it, and
  // the use cases the mailboxes run append notices to the mailboxes.
  const health = new ServiceHealth({
    checks: {
      chatwoot: async () => await inbox.remember(await chatwoot.getInbox()),
      discord: () => discordRest.checkAccess(),
      storage: async () => void await kv.get(keys.inboxSettings()),
    },
    onRecovered: (service) => mailboxes.wakeWaitingOn(service),
    probeMs: timings.probeMs ?? SERVICE_PROBE_MS,
    log,
    signal: running.signal,
  });
  const { userTyping, agentTyping } = typingRelays(services, {
    log,
    userTypingIdleMs: timings.userTypingIdleMs,
    agentTypingRenewMs: timings.agentTypingRenewMs,
    agentTypingMaxMs: timings.agentTypingMaxMs,
  });
  const interactionReplies: InteractionReplies = {
    async editReply(token, embed, rows) {
      await discord.bot.helpers.editOriginalInteractionResponse(token, {
        embeds: [renderEmbed(embed, config.branding)],
        ...(rows ? { components: renderRows(rows) } : {}),
      });
    },
  };

  const mailbox: MailboxPort = {
    append: (request) => mailboxes.append(request),
    resume: (dir, userId) => mailboxes.resume(dir, userId),
  };
  const wakeups = config.discordGateway && kvHasQueues(config.kvPath, { deploy: config.onDeploy })
    ? queueWakeups(kv)
    // KV Connect and Deno Deploy have no queues, and an HTTP-only bridge need not wait on one:
    // there the mailboxes are drained inline, retried on timers, and swept every minute.
    : inlineWakeups();
  const mailboxes: Mailboxes = new Mailboxes({
    kv,
    wakeups,
    log,
    ...(timings.mailboxLeaseMs ? { leaseMs: timings.mailboxLeaseMs } : {}),
    ...(timings.retryDelayMs ? { retryDelayMs: timings.retryDelayMs } : {}),
    deadLetterTtlMs: config.deadLetterDays * 24 * 3600_000,
    observer: observeMailboxes(metrics, health),
    tellSender,
    serviceAnswers: (service) => health.answers(service),
    deliveredSince: (service, sinceMs) => health.deliveredSince(service, sinceMs),
    seenMarkers: seen,
    handlers: mailboxHandlers(
      mailboxUseCases(withTopicTimeout(config, timings.topicTimeoutMs), services, {
        mailbox,
        nextSeq,
        replies: interactionReplies,
        replied: (userId) => agentTyping.replied(userId),
        log,
      }),
      { recentWindowMs, trackLastSpeaker: nudgeAfterMs !== undefined },
    ),
  });

  const intake = { mailbox, log, allowFrom: config.allowFrom };
  const scope = { inboxId: config.chatwootInboxId, accountId: config.chatwootAccountId };
  const acceptAgentMessage = (event: ChatwootMessageEvent, deliveryId?: string) =>
    acceptMessageEvent(
      { mailbox, log, nextSeq, scope: { ...scope, csatEnabled: config.csat.enabled } },
      event,
      deliveryId,
    );
  const reconcile = () =>
    reconcileMissedReplies({
      recent,
      chatwoot,
      tickets,
      inboxId: config.chatwootInboxId,
      windowHours: config.reconcileWindowHours,
      accept: acceptAgentMessage,
      log,
    });
  const catchUp = () =>
    catchUpMissedDms({
      recent,
      discord: discordRest,
      windowHours: config.reconcileWindowHours,
      accept: (dm) => acceptDm(intake, dm),
      log,
    });
  const refreshPresence = presenceRefresher(config, services, log);
  const patterns = createPatternSandbox();
  const interactionDeps: InteractionDeps = {
    bot: discord.bot,
    ticketCommand: config.ticketCommand,
    acceptCommandMessage: (dm) => acceptDm(intake, dm),
    commands: {
      chatwoot,
      tickets,
      conversations,
      reopenWindowHours: config.lifecycle.reopenWindowHours,
      lockToSingleConversation: async () => (await inbox.get()).lockToSingleConversation,
      ...(config.lifecycle.transcriptOnResolve
        ? { closedByUser: (userId, id) => sendTranscriptAfterClose({ mailbox }, userId, id) }
        : {}),
      log,
    },
    csat,
    csatTexts: config.csat,
    interactive: services.interactive,
    once: (kind, id) => services.links.once(kind, id),
    tickets,
    patterns,
    topics: {
      topics: config.topics.list,
      picks: services.topicPicks,
      log,
      resume: (userId) => mailbox.resume("in", userId),
    },
    mailbox,
    branding: config.branding,
    log,
  };
  const catchUps = catchUpGate();
  const leadership = gatewayLeadership({
    kv,
    leaseMs: timings.leaderLeaseMs,
    renewMs: timings.leaderRenewMs,
    instanceId: crypto.randomUUID(),
    // Retries on its own, without limit; a fatal failure resolves `fatal` (onFatal above).
    connect: () =>
      discord.start({
        onEvent: gatewayEventRouter({
          config,
          mailbox,
          tickets,
          log,
          threads: services.fallback?.threads,
          userTyping: (userId) => userTyping.userTyping(userId),
          caughtUp: () => catchUps.caughtUp(),
        }),
        onInteraction: (raw) => handleInteraction(interactionDeps, raw),
        onReady: () => {
          void refreshPresence();
          // Every (re)identify may have missed DMs: Discord replays only within a resumed session.
          void catchUps.run(() =>
            catchUp().catch((error) =>
              log.warn("missed DM catch-up failed", { error: describeError(error) })
            )
          );
        },
      }),
    disconnect: () => discord.disconnect(),
    log,
  });
  const gatewayState = (): GatewayState =>
    !config.discordGateway
      ? "off"
      : !leadership.started
      ? "connecting"
      : !leadership.isLeader
      ? "standby"
      : discord.isReady()
      ? "ready"
      : "connecting";
  const healthSources = {
    gatewayState,
    gatewayStatus: () => discord.status(),
    services: health,
    stats: () => mailboxes.stats(),
    wakeups: wakeups.mode,
    maxItemAgeMs: config.healthMaxItemAgeMs,
  };

  const http = await buildHttpSurface(config, {
    log,
    services,
    mailbox,
    nextSeq,
    scope,
    acceptAgentMessage,
    agentTyping: (userId, on) => agentTyping.agentTyping(userId, on),
    interactionDeps,
    healthSources,
  });
  const checkChatwoot = async () => void await health.check("chatwoot");
  const jobs: ScheduledJobs = {
    "mailbox sweep": () => mailboxes.sweep(),
    "chatwoot health": checkChatwoot,
    "reconcile": reconcile,
    "presence": refreshPresence,
    "nudge stale tickets": () =>
      nudgeAfterMs === undefined ? Promise.resolve() : nudgeStaleTickets({
        waits: services.answerWaits,
        tickets,
        conversations,
        chatwoot,
        inbox,
        mailbox,
        afterMs: nudgeAfterMs,
        log,
      }),
  };

  // ------------------------------------------------------------ start
  const server = await listenHttp(config, http, log);
  mailboxes.listen();
  // On Deno Deploy the crons are declared at main.ts's top level instead.
  if (!config.onDeploy) {
    registerCrons(jobs, {
      presencePollMs: config.presence.pollIntervalMs,
      signal: running.signal,
    });
  }
  await Promise.all([checkChatwoot(), mailboxes.sweep()]);
  // Not awaited: start-up must not wait on a Chatwoot that may be down.
  reconcile().catch((error) => log.warn("reconciliation failed", { error: describeError(error) }));
  if (config.discordGateway) leadership.start();

  // ------------------------------------------------------------ stop
  let stopped = false;
  return {
    port: server.addr.port,
    kv,
    mailboxes,
    fatal: fatal.promise,
    checkChatwoot,
    refreshPresence,
    reconcile,
    catchUpMissedDms: catchUp,
    runScheduled: (job) => jobs[job](),
    async stop() {
      if (stopped) return;
      stopped = true;
      running.abort();
      await leadership.stop();
      userTyping.stop();
      agentTyping.stop();
      await discord.stop();
      await server.shutdown();
      await mailboxes.stop();
      discordRest.stop();
      patterns.close();
      if (ownsKv) kv.close();
      log.info("stopped");
    },
  };
}

function withTopicTimeout(config: Config, timeoutMs: number | undefined): Config {
  return timeoutMs === undefined ? config : { ...config, topics: { ...config.topics, timeoutMs } };
}
