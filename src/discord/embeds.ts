/** Renders the bridge's notices as Discord embeds and buttons, with the configured branding. */
import type { NoticeButton, NoticeEmbed } from "../bridge/items.ts";
import type { ComponentRow, MessageCard } from "../bridge/items.ts";
import { type ActionRow, ButtonStyles, MessageComponentTypes } from "@discordeno/bot";
import type { BrandingConfig } from "../config.ts";

/** Discord's embed limits (reference/discord.md §6). */
const TITLE_MAX = 256;
const DESCRIPTION_MAX = 4096;
const FOOTER_MAX = 2048;

export function renderEmbed(embed: NoticeEmbed, branding: BrandingConfig) {
  return {
    ...(embed.title ? { title: embed.title.slice(0, TITLE_MAX) } : {}),
    description: embed.description.slice(0, DESCRIPTION_MAX),
    color: branding.colors[embed.tone],
    footer: {
      text: branding.footerText.slice(0, FOOTER_MAX),
      ...(branding.iconUrl ? { iconUrl: branding.iconUrl } : {}),
    },
    timestamp: new Date().toISOString(),
  };
}

export function renderButtonRow(button: NoticeButton): ActionRow {
  return {
    type: MessageComponentTypes.ActionRow,
    components: [{
      type: MessageComponentTypes.Button,
      style: ButtonStyles.Primary,
      label: button.label.slice(0, 80),
      customId: button.customId,
      disabled: button.disabled ?? false,
    }],
  };
}

/** An interactive message's cards: embeds in the brand's primary colour. */
export function renderCards(cards: MessageCard[], branding: BrandingConfig) {
  return cards.map((card) => ({
    ...(card.title ? { title: card.title.slice(0, TITLE_MAX) } : {}),
    ...(card.description ? { description: card.description.slice(0, DESCRIPTION_MAX) } : {}),
    ...(card.url ? { url: card.url } : {}),
    ...(card.imageUrl ? { image: { url: card.imageUrl } } : {}),
    color: branding.colors.primary,
  }));
}

const BUTTON_STYLE = {
  primary: ButtonStyles.Primary,
  secondary: ButtonStyles.Secondary,
  success: ButtonStyles.Success,
} as const;

/** An interactive message's components, as Discordeno takes them. */
export function renderRows(rows: ComponentRow[]): ActionRow[] {
  return rows.map((row): ActionRow => {
    if ("select" in row) {
      return {
        type: MessageComponentTypes.ActionRow,
        components: [{
          type: MessageComponentTypes.SelectMenu,
          customId: row.select.customId,
          placeholder: row.select.placeholder.slice(0, 150),
          minValues: 1,
          maxValues: 1,
          disabled: row.select.disabled ?? false,
          options: row.select.options.map((o) => ({
            label: o.label.slice(0, 100),
            value: o.value,
            ...(o.description ? { description: o.description.slice(0, 100) } : {}),
            ...(o.emoji ? { emoji: emojiOf(o.emoji) } : {}),
          })),
        }],
      };
    }
    return {
      type: MessageComponentTypes.ActionRow,
      components: row.buttons.map((b) =>
        b.url
          ? {
            type: MessageComponentTypes.Button,
            style: ButtonStyles.Link,
            label: b.label.slice(0, 80),
            url: b.url,
          }
          : {
            type: MessageComponentTypes.Button,
            style: BUTTON_STYLE[b.style ?? "primary"],
            label: b.label.slice(0, 80),
            customId: b.customId,
            disabled: b.disabled ?? false,
          }
      ) as ActionRow["components"],
    };
  });
}

/** A unicode emoji, or a custom one written `<:name:id>` (`<a:name:id>` when animated). */
function emojiOf(text: string): { name: string; id?: bigint; animated?: boolean } {
  const custom = /^<(a?):(\w{2,32}):(\d{17,20})>$/.exec(text);
  return custom
    ? { name: custom[2], id: BigInt(custom[3]), animated: custom[1] === "a" }
    : { name: text };
}
