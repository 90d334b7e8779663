/**
 * Raw gateway events → intake. DMs, edits and deletions are queued in the
 * user's inbound mailbox (the allow-list is applied by `acceptDm`, the same
 * for every way a DM arrives); a user typing is relayed to Chatwoot.
 */
import { acceptDm, acceptDmChange, type IntakeDeps } from "../bridge/intake.ts";
import type { TicketStore } from "../bridge/ports.ts";
import type { Config } from "../config.ts";
import { parseDm, parseDmDelete, parseDmEdit, parseDmTyping } from "../discord/dm_events.ts";
import type { GatewayEventName } from "../discord/gateway.ts";

export interface GatewayEventDeps extends IntakeDeps {
  config: Pick<Config, "discordBotId" | "discordCdnUrl" | "allowFrom">;
  tickets: Pick<TicketStore, "userForDmChannel">;
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
  const { config } = deps;
  const intake = { ...deps, allowFrom: config.allowFrom };
  return async (name: GatewayEventName, raw: unknown): Promise<void> => {
    switch (name) {
      case "MESSAGE_CREATE": {
        const dm = parseDm(raw, config.discordBotId, Date.now(), config.discordCdnUrl);
        if (!dm) return;
        await deps.caughtUp();
        await acceptDm(intake, dm);
        return;
      }
      case "MESSAGE_UPDATE": {
        const edit = parseDmEdit(raw, config.discordBotId);
        if (edit) await acceptDmChange(deps, { kind: "dm_edit", ...edit, receivedAt: Date.now() });
        return;
      }
      case "MESSAGE_DELETE": {
        const deleted = parseDmDelete(raw);
        const userId = deleted && await deps.tickets.userForDmChannel(deleted.channelId);
        if (deleted && userId) {
          await acceptDmChange(deps, {
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
        if (typing && await deps.tickets.userForDmChannel(typing.channelId) === typing.userId) {
          deps.userTyping(typing.userId);
        }
        return;
      }
    }
  };
}
