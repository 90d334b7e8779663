/** Renders the bridge's notices as Discord embeds and buttons, with the configured branding. */
import type { NoticeButton, NoticeEmbed } from "../bridge/items.ts";
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
