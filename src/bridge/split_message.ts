/** Discord's hard limit on message content, in UTF-16 code units (what `.length` counts). */
export const DISCORD_MESSAGE_LIMIT = 2000;

/**
 * Splits text into parts of at most `limit` characters, preferring paragraph
 * breaks, then line breaks, then spaces, and cutting mid-word only when a
 * single word is longer than the limit. Joining the parts with the separator
 * each was cut at gives back the original text: nothing is lost.
 *
 * The separators at a cut are dropped from the parts (a part never starts or
 * ends with the blank line it was split at). Surrogate pairs are never cut.
 */
export function splitMessage(text: string, limit = DISCORD_MESSAGE_LIMIT): string[] {
  if (text.length <= limit) return [text];
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const window = rest.slice(0, limit + 1);
    const cut = lastBreak(window, "\n\n") ?? lastBreak(window, "\n") ?? lastBreak(window, " ");
    if (cut) {
      parts.push(rest.slice(0, cut.at));
      rest = rest.slice(cut.at + cut.length);
    } else {
      let at = limit;
      // Do not split a surrogate pair (an emoji, say) in half.
      const code = rest.charCodeAt(at - 1);
      if (code >= 0xd800 && code <= 0xdbff) at -= 1;
      parts.push(rest.slice(0, at));
      rest = rest.slice(at);
    }
  }
  if (rest.length > 0) parts.push(rest);
  return parts;
}

function lastBreak(window: string, separator: string): { at: number; length: number } | undefined {
  const at = window.lastIndexOf(separator);
  // A cut at 0 would make an empty part; ignore it.
  return at > 0 ? { at, length: separator.length } : undefined;
}
