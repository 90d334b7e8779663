/**
 * Each mailbox's use cases (src/bridge/deliver_*.ts), given the services
 * they work with.
 */
import { inboundDeliverers } from "../bridge/deliver_inbound.ts";
import { outboundDeliverers } from "../bridge/deliver_outbound.ts";
import type { Deliverers, Direction } from "../bridge/items.ts";
import type { InteractionReplies, Logger, MailboxPort } from "../bridge/ports.ts";
import { topicForNewTicket } from "../bridge/topics.ts";
import { buildTranscript } from "../bridge/transcript.ts";
import type { Config } from "../config.ts";
import type { Services } from "./services.ts";

export function mailboxUseCases(
  config: Config,
  services: Services,
  deps: {
    mailbox: MailboxPort;
    nextSeq: () => bigint;
    replies: InteractionReplies;
    /** An agent's reply went out: their typing indicator ends. */
    replied(userId: string): void;
    log: Logger;
  },
): { [D in Direction]: Deliverers<D> } {
  const { chatwoot, discordRest, tickets, links, csat, attachmentMemory } = services;
  const { log } = deps;
  const noticeDeps = {
    discord: discordRest,
    fallback: services.fallback,
    tickets,
    csat,
    log,
    transcript: (conversationId: number) =>
      buildTranscript({ chatwoot, brandName: config.branding.name }, conversationId),
  };
  const csatDeps = { ...noticeDeps, chatwoot, replies: deps.replies, texts: config.csat };
  const topicDeps = {
    topics: config.topics.list,
    timeoutMs: config.topics.timeoutMs,
    picks: services.topicPicks,
    mailbox: deps.mailbox,
    replies: deps.replies,
    log,
  };
  return {
    in: inboundDeliverers({
      dms: {
        chatwoot,
        discord: discordRest,
        tickets,
        conversations: services.conversations,
        inbox: services.inbox,
        mailbox: deps.mailbox,
        links,
        maxUploadBytes: config.chatwootMaxUploadBytes,
        attachmentMemory,
        inboxId: config.chatwootInboxId,
        reopenWindowHours: config.lifecycle.reopenWindowHours,
        texts: config.lifecycle,
        confirmEmoji: config.confirmEmoji,
        enrich: services.enrich,
        ...(config.topics.list.length
          ? {
            topics: {
              forNewTicket: (userId: string, via?: { interactionToken: string }) =>
                topicForNewTicket(topicDeps, userId, via),
              opened: (userId: string) => services.topicPicks.clear(userId),
            },
          }
          : {}),
        nextSeq: deps.nextSeq,
        log,
      },
      changes: { chatwoot, tickets, links, log },
      answers: {
        chatwoot,
        tickets,
        conversations: services.conversations,
        inbox: services.inbox,
        log,
      },
      csat: csatDeps,
      replies: deps.replies,
      log,
    }),
    out: outboundDeliverers({
      replies: {
        ...noticeDeps,
        chatwoot,
        links,
        maxUploadBytes: config.discordMaxUploadBytes,
        attachmentMemory,
        interactive: services.interactive,
      },
      csat: csatDeps,
      replied: deps.replied,
    }),
  };
}
