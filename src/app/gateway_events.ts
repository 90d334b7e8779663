/**
 * Raw gateway events → intake. DMs, edits and deletions are queued in the
 * user's inbound mailbox (the allow-list is applied by `acceptDm`, the same
 * for every way a DM arrives); a user typing is relayed to Chatwoot.
 */
import { acceptDm, acceptDmChange, type IntakeDeps } from "../bridge/intake.ts";
import type { FallbackThreads } from "../bridge/fallback.ts";
import type { TicketStore } from "../bridge/ports.ts";
import type { Config } from "../config.ts";
import { parseDm, parseDmDelete, parseDmEdit, parseDmTyping } from "../discord/dm_events.ts";
import type { GatewayEventName } from "../discord/gateway.ts";

export interface GatewayEventDeps extends IntakeDeps {
  config: Pick<Config, "discordBotId" | "discordCdnUrl" | "allowFrom">;
  tickets: Pick<TicketStore, "userForDmChannel">;
  /** FALLBACK_CHANNEL_ID: messages in a user's fallback thread are theirs like DMs. */
  threads?: FallbackThreads;
  userTyping(userId: string): void;
  /** Resolves once the DMs missed while disconnected are queued (live DMs wait for them). */
  caughtUp(): Promise<void>;
}

/** How long a live DM waits for the catch-up before it is queued anyway. */
const CATCH_UP_WAIT_MS = 10_000;

/**
 * The catch-up of missed DMs after a (re)connection: live DMs wait for it (at
 * most CATCH_UP_WAIT_MS), so that a DM sent just after READY cannot reach the
 * mailbox, and Chatwoot, before older DMs the bot missed.
 */
export function catchUpGate(waitMs = CATCH_UP_WAIT_MS) {
  let running: Promise<void> = Promise.resolve();
  return {
    run(catchUp: () => Promise<unknown>): Promise<void> {
      running = catchUp().then(() => {}, () => {});
      return running;
    },
    caughtUp(): Promise<void> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waited = new Promise<void>((r) => timer = setTimeout(r, waitMs));
      return Promise.race([running, waited]).finally(() => clearTimeout(timer));
    },
  };
}

export function gatewayEventRouter(deps: GatewayEventDeps) {
  const { config, threads } = deps;
  const intake = { ...deps, allowFrom: config.allowFrom };
  const inServers = threads !== undefined;
  const owners = threadOwners(threads);
  return async (name: GatewayEventName, raw: unknown): Promise<void> => {
    switch (name) {
      case "MESSAGE_CREATE": {
        const dm = parseDm(raw, config.discordBotId, Date.now(), config.discordCdnUrl, inServers);
        if (!dm) return;
        if (dm.inThread && await owners.of(dm.channelId) !== dm.author.id) return;
        await deps.caughtUp();
        await acceptDm(intake, dm);
        // A DM from the user: their DMs are open again (after the DM is queued: DMs keep order).
        if (threads && !dm.inThread) await threads.markDmsOpen(dm.author.id);
        return;
      }
      case "MESSAGE_UPDATE": {
        const edit = parseDmEdit(raw, config.discordBotId, inServers);
        if (!edit || (edit.inThread && await owners.of(edit.channelId) !== edit.userId)) return;
        const { inThread: _where, ...change } = edit;
        await acceptDmChange(deps, { kind: "dm_edit", ...change, receivedAt: Date.now() });
        return;
      }
      case "MESSAGE_DELETE": {
        const deleted = parseDmDelete(raw, inServers);
        const userId = deleted &&
          await (deleted.inThread
            ? owners.of(deleted.channelId)
            : deps.tickets.userForDmChannel(deleted.channelId));
        if (deleted && userId) {
          await acceptDmChange(deps, {
            kind: "dm_delete",
            messageId: deleted.messageId,
            channelId: deleted.channelId,
            userId,
            receivedAt: Date.now(),
          });
        }
        return;
      }
      case "TYPING_START": {
        const typing = parseDmTyping(raw);
        if (typing && await deps.tickets.userForDmChannel(typing.channelId) === typing.userId) {
          deps.userTyping(typing.userId);
        }
        return;
      }
    }
  };
}

/**
 * Who owns a server channel, read once per channel: every message of every
 * channel the bot can see arrives here, and only fallback threads are kept.
 * The lookup itself is kept (a promise), so that messages of one channel that
 * arrive together wait on the same read and are queued in the order they came.
 * The last REMEMBERED channels are kept.
 */
function threadOwners(threads: FallbackThreads | undefined) {
  const known = new Map<string, Promise<string | undefined>>();
  const REMEMBERED = 10_000;
  return {
    of(channelId: string): Promise<string | undefined> {
      if (!threads) return Promise.resolve(undefined);
      let owner = known.get(channelId);
      if (!owner) {
        if (known.size >= REMEMBERED) known.delete(known.keys().next().value!);
        // Stable either way: a fallback thread is recorded before its user can write in it.
        owner = threads.ownerOf(channelId);
        // A failed read is not remembered: the next message reads again.
        owner.catch(() => known.delete(channelId));
        known.set(channelId, owner);
      }
      return owner;
    },
  };
}
