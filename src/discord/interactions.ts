/**
 * Discord interactions: the slash commands, the "Rate us" button and the
 * rating form. Interactions are read from Discord's raw JSON (the same shape
 * over the gateway and over an HTTP interactions endpoint) and answered over
 * REST within Discord's 3 seconds: at once when the answer is known, else
 * deferred and edited when the work is done.
 */
import type { InboundDm, NoticeEmbed } from "../bridge/items.ts";
import { InteractionResponseTypes, MessageComponentTypes, TextStyles } from "@discordeno/bot";
import { z } from "zod";
import {
  closeTicket,
  type CommandDeps,
  helpText,
  reopenTicket,
  showTicketStatus,
} from "../bridge/commands.ts";
import {
  acceptRating,
  checkRating,
  CSAT_COMMENT_MAX,
  CSAT_CUSTOM_ID_PREFIX,
  type CsatTexts,
  ratingAllowed,
} from "../bridge/csat.ts";
import { type PatternCheck, readInteractiveCustomId } from "../bridge/interactive.ts";
import type { CsatStore, Logger, MailboxPort, TicketStore } from "../bridge/ports.ts";
import type { InteractiveStore } from "../bridge/prompts.ts";
import {
  EPHEMERAL,
  handleInteractiveInteraction,
  type InteractiveResponder,
} from "./interactive_interactions.ts";
import type { BrandingConfig } from "../config.ts";
import { renderEmbed, renderRows } from "./embeds.ts";
import { pickTopic, TOPIC_CUSTOM_ID_PREFIX } from "../bridge/topics.ts";
import { answerNudge, NUDGE_CUSTOM_ID_PREFIX } from "../bridge/nudges.ts";
import type { DiscordBot } from "./gateway.ts";

const optionSchema = z.object({ name: z.string(), value: z.unknown().optional() });
const componentSchema = z.object({
  type: z.number(),
  custom_id: z.string().optional(),
  value: z.string().optional(),
});
const MAX_SELECTED = 25;
const interactionSchema = z.object({
  id: z.string(),
  token: z.string(),
  type: z.number(),
  channel_id: z.string().optional(),
  guild_id: z.string().optional(),
  user: z.object({
    id: z.string(),
    username: z.string().optional(),
    global_name: z.string().nullish(),
  }).optional(),
  member: z.object({
    user: z.object({
      id: z.string(),
      username: z.string().optional(),
      global_name: z.string().nullish(),
    }),
  }).optional(),
  context: z.number().optional(),
  data: z.object({
    name: z.string().optional(),
    custom_id: z.string().max(100).optional(),
    values: z.array(z.string().max(100)).max(MAX_SELECTED).optional(),
    options: z.array(optionSchema).optional(),
    components: z.array(z.object({
      type: z.number(),
      components: z.array(componentSchema).optional(),
      component: componentSchema.optional(),
    })).optional(),
  }).optional(),
});

export type RawInteraction = z.infer<typeof interactionSchema>;

export interface InteractionDeps {
  bot: DiscordBot;
  /** The ticket command's name (TICKET_COMMAND). */
  ticketCommand: string;
  /** Queues a message sent with the ticket command, like a DM; false for a duplicate. */
  acceptCommandMessage(dm: InboundDm): Promise<boolean>;
  commands: CommandDeps;
  /** True the first time (kind, id) is seen (one-time actions, e.g. a check-in answer). */
  once(kind: string, id: string): Promise<boolean>;
  csat: CsatStore;
  csatTexts: CsatTexts;
  interactive: InteractiveStore;
  tickets: TicketStore;
  /** Runs form patterns where they cannot stall the bridge (app/pattern_sandbox.ts). */
  patterns: PatternCheck;
  /** The topic menu's picks (topics.ts). */
  topics: Parameters<typeof pickTopic>[0];
  mailbox: MailboxPort;
  branding: BrandingConfig;
  log: Logger;
}

/** Reads a raw interaction; undefined when it is not one we can use. */
export function parseInteraction(raw: unknown): RawInteraction | undefined {
  const parsed = interactionSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** Form values by custom id, from both the legacy ActionRow and the newer Label layout. */
function formValues(i: RawInteraction): Record<string, string> {
  const values: Record<string, string> = {};
  for (const row of i.data?.components ?? []) {
    for (const c of [...(row.components ?? []), ...(row.component ? [row.component] : [])]) {
      if (c.custom_id && c.value !== undefined) values[c.custom_id] = c.value;
    }
  }
  return values;
}

export async function handleInteraction(
  deps: InteractionDeps,
  raw: unknown,
  /** Called once Discord has the interaction's first response (the HTTP endpoint waits for it). */
  responded?: () => void,
): Promise<void> {
  const i = parseInteraction(raw);
  if (!i) {
    deps.log.warn("interaction ignored: unexpected shape");
    return;
  }
  const user = i.user ?? i.member?.user;
  const userId = user?.id;
  if (!userId) return;
  const log = deps.log.child({ discordUserId: userId, interactionId: i.id });
  const embed = (e: NoticeEmbed) => renderEmbed(e, deps.branding);
  const respond = async (type: InteractionResponseTypes, data?: Record<string, unknown>) => {
    try {
      await deps.bot.helpers.sendInteractionResponse(
        BigInt(i.id),
        i.token,
        { type, data } as never,
      );
    } finally {
      responded?.();
    }
  };
  const reply = (e: NoticeEmbed) =>
    respond(InteractionResponseTypes.ChannelMessageWithSource, {
      embeds: [embed(e)],
      flags: EPHEMERAL,
    });
  const deferThenEdit = async (work: () => Promise<NoticeEmbed>) => {
    await respond(InteractionResponseTypes.DeferredChannelMessageWithSource, { flags: EPHEMERAL });
    const result = await work();
    await deps.bot.helpers.editOriginalInteractionResponse(i.token, { embeds: [embed(result)] });
  };

  try {
    if (i.type === 2) {
      const option = (name: string) => {
        const value = i.data?.options?.find((o) => o.name === name)?.value;
        return typeof value === "string" ? value : undefined;
      };
      if (i.data?.name === deps.ticketCommand) {
        const text = option("message")?.trim() ?? "";
        if (!text) return await reply({ tone: "warning", description: "Please write a message." });
        await respond(InteractionResponseTypes.DeferredChannelMessageWithSource, {
          flags: EPHEMERAL,
        });
        const accepted = await deps.acceptCommandMessage({
          kind: "dm",
          messageId: i.id,
          // Only a DM channel can be read back later; a server channel is not the user's.
          channelId: i.context === 1 && i.channel_id ? i.channel_id : "",
          author: {
            id: userId,
            username: user.username ?? userId,
            globalName: user.global_name ?? null,
          },
          content: text,
          viaCommand: { interactionToken: i.token },
          receivedAt: Date.now(),
        });
        if (!accepted) {
          await deps.bot.helpers.editOriginalInteractionResponse(i.token, {
            embeds: [embed({ tone: "info", description: "We already have this message." })],
          });
        }
        return;
      }
      switch (i.data?.name) {
        case "help":
          return await reply(helpText());
        case "status":
          return await deferThenEdit(() => showTicketStatus(deps.commands, userId));
        case "close":
          return await deferThenEdit(() => closeTicket(deps.commands, userId, option("reason")));
        case "reopen":
          return await deferThenEdit(() => reopenTicket(deps.commands, userId));
        default:
          log.warn("unknown command", { command: i.data?.name });
          return await reply({ tone: "warning", description: "I do not know that command." });
      }
    }
    const customId = i.data?.custom_id ?? "";
    const interactive = readInteractiveCustomId(customId);
    const responder: InteractiveResponder = {
      respond,
      editOriginal: async (data) => {
        await deps.bot.helpers.editOriginalInteractionResponse(i.token, data as never);
      },
      followUp: async (message) => {
        await deps.bot.helpers.sendFollowupMessage(
          i.token,
          { ...message, flags: EPHEMERAL } as never,
        );
      },
    };
    if (interactive && (i.type === 3 || i.type === 5)) {
      return await handleInteractiveInteraction(deps, {
        type: i.type,
        userId,
        ...interactive,
        values: i.data?.values,
        fields: formValues(i),
      }, responder);
    }
    // The topic menu and the check-in's buttons: acknowledged, then the message shows the choice.
    if (customId.startsWith(TOPIC_CUSTOM_ID_PREFIX) && i.type === 3) {
      await respond(InteractionResponseTypes.DeferredUpdateMessage);
      const outcome = await pickTopic(deps.topics, userId, customId, i.data?.values?.[0]);
      return outcome.kind === "note"
        ? await responder.followUp({ content: outcome.text })
        : await responder.editOriginal({ components: renderRows(outcome.rows) });
    }
    if (customId.startsWith(NUDGE_CUSTOM_ID_PREFIX) && i.type === 3) {
      await respond(InteractionResponseTypes.DeferredUpdateMessage);
      const { result, rows } = await answerNudge(
        { ...deps.commands, once: deps.once },
        userId,
        customId,
      );
      if (rows) await responder.editOriginal({ components: renderRows(rows) });
      return await responder.followUp({ embeds: [embed(result)] });
    }
    if (!customId.startsWith(CSAT_CUSTOM_ID_PREFIX)) return;
    const uuid = customId.slice(CSAT_CUSTOM_ID_PREFIX.length);
    if (i.type === 3) {
      const allowed = await ratingAllowed(deps, uuid, userId);
      if (!allowed.ok) return await reply(allowed.embed);
      return await respond(InteractionResponseTypes.Modal, ratingForm(uuid, deps.csatTexts));
    }
    if (i.type === 5) {
      const values = formValues(i);
      const check = checkRating(values.rating ?? "", values.comment);
      if (!check.ok) {
        return await reply({
          tone: "warning",
          title: "Rating not sent",
          description: `${check.problem} Press the button again to retry.`,
        });
      }
      const allowed = await ratingAllowed(deps, uuid, userId);
      if (!allowed.ok) return await reply(allowed.embed);
      await respond(InteractionResponseTypes.DeferredChannelMessageWithSource, {
        flags: EPHEMERAL,
      });
      await acceptRating(deps, {
        kind: "csat_rating",
        uuid,
        discordUserId: userId,
        rating: check.rating,
        comment: check.comment,
        interactionToken: i.token,
        receivedAt: Date.now(),
      });
      log.info("csat rating queued", { rating: check.rating });
    }
  } catch (error) {
    log.error("interaction failed", {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

function ratingForm(uuid: string, texts: CsatTexts) {
  const rows = [{
    type: MessageComponentTypes.ActionRow,
    components: [{
      type: MessageComponentTypes.InputText,
      customId: "rating",
      label: "Your rating, from 1 (poor) to 5 (great)",
      style: TextStyles.Short,
      minLength: 1,
      maxLength: 1,
      required: true,
      placeholder: "5",
    }],
  }];
  if (texts.commentEnabled) {
    rows.push({
      type: MessageComponentTypes.ActionRow,
      components: [{
        type: MessageComponentTypes.InputText,
        customId: "comment",
        label: "Comment",
        style: TextStyles.Paragraph,
        minLength: 0,
        maxLength: CSAT_COMMENT_MAX,
        required: false,
        placeholder: texts.commentPlaceholder,
      }],
    });
  }
  return {
    customId: `${CSAT_CUSTOM_ID_PREFIX}${uuid}`,
    title: "Rate your support",
    components: rows,
  };
}
