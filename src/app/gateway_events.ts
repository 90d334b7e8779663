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
  const inOrder = perChannelOrder();
  // Events of one channel are handled one after the other, so that whatever a step awaits
  // (a lookup, the catch-up) they are queued in the order Discord sent them.
  return (name: GatewayEventName, raw: unknown): Promise<void> =>
    inOrder(channelOf(raw), () => handle(name, raw));

  async function handle(name: GatewayEventName, raw: unknown): Promise<void> {
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
  }
}

/**
 * Who owns a server channel, read once per channel: every message of every
 * channel the bot can see arrives here, and only fallback threads are kept.
 * The last REMEMBERED answers are kept (stable either way: a fallback thread
 * is recorded before its user can write in it).
 */
function threadOwners(threads: FallbackThreads | undefined) {
  const known = new Map<string, string | undefined>();
  const REMEMBERED = 10_000;
  return {
    async of(channelId: string): Promise<string | undefined> {
      if (!threads) return undefined;
      if (known.has(channelId)) return known.get(channelId);
      const owner = await threads.ownerOf(channelId);
      if (known.size >= REMEMBERED) known.delete(known.keys().next().value!);
      known.set(channelId, owner);
      return owner;
    },
  };
}

/** The channel a raw message event belongs to. */
function channelOf(raw: unknown): string | undefined {
  const id = (raw as { channel_id?: unknown } | null)?.channel_id;
  return typeof id === "string" ? id : undefined;
}

/** Runs the steps of one key in order (steps of different keys run side by side). */
function perChannelOrder() {
  const tails = new Map<string, Promise<void>>();
  return (key: string | undefined, step: () => Promise<void>): Promise<void> => {
    if (key === undefined) return step();
    const run = (tails.get(key) ?? Promise.resolve()).then(step, step);
    const tail = run.catch(() => {});
    tails.set(key, tail);
    // The last step of a key removes the key (the map holds only channels in flight).
    void tail.then(() => tails.get(key) === tail && tails.delete(key));
    return run;
  };
}
