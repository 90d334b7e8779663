import assert from "node:assert/strict";
import { toDiscordMarkdown } from "../src/bridge/webhook_routing.ts";
import { readableContent } from "../src/discord/dm_events.ts";

Deno.test("Chatwoot markdown becomes Discord markdown", () => {
  assert.equal(
    toDiscordMarkdown("**bold** _it_ [docs](https://x.test) `code`"),
    "**bold** _it_ [docs](https://x.test) `code`",
  );
  assert.equal(
    toDiscordMarkdown("see ![the label](https://x.test/l.png)"),
    "see the label: https://x.test/l.png",
  );
  assert.equal(toDiscordMarkdown("line one\\\nline two"), "line one\nline two");
});

Deno.test("Discord markup becomes readable text", () => {
  assert.equal(
    readableContent("<@!1> <@2> <@&3> <#4> <a:dance:5> <t:0:F>", [{ id: "1", username: "ann" }]),
    "@ann @unknown-user @role #channel :dance: 1970-01-01T00:00:00.000Z",
  );
});
