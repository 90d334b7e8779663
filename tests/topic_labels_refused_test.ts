/**
 * Hostile input (one bad item): a topic whose labels Chatwoot refuses for good.
 * The ticket opens and labelling it fails (422 every time): the labels are
 * given up with a note for the agents, and neither this DM nor any later one
 * of the user is held or dead-lettered for them.
 */
import assert from "node:assert/strict";
import type { FakeMessage } from "../src/fakes/fake_discord.ts";
import { startHarness } from "./helpers/harness.ts";

const TOPICS = JSON.stringify([{ label: "Billing", labels: ["billing"] }]);

type Menu = { type: number; custom_id: string; options: { value: string }[] };
const menuOf = (m: FakeMessage) =>
  ((m.components ?? []) as { components: Menu[] }[]).flatMap((r) => r.components)
    .find((c) => c.type === 3);

Deno.test("a topic whose labels Chatwoot refuses for good does not dead-letter every later DM of the user", async () => {
  await using h = await startHarness({
    env: { TICKET_TOPICS: TOPICS, GREETING_ENABLED: "false" },
    timings: { retryDelayMs: () => 20, probeMs: 50 },
  });
  h.chatwoot.intercept = (call) =>
    call.method === "POST" && /\/conversations\/\d+\/labels$/.test(call.path)
      ? Response.json({ error: "Label is invalid" }, { status: 422 })
      : undefined;
  const userId = "650000000000000099";
  h.discord.sendDm({ userId, content: "my invoice is wrong" });
  const message = await h.discord.waitFor(
    () => h.discord.sentTo(userId).find((m) => menuOf(m)),
    "the topic menu",
  );
  const menu = menuOf(message)!;
  await h.discord.responseTo(
    h.discord.chooseOption(userId, message, menu.custom_id, [menu.options[0].value]),
  );
  // The ticket opens and the DM arrives; the refusal is told to the agents, not held against the user.
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.some((m) => m.content === "my invoice is wrong"),
    "the first DM in Chatwoot",
  );
  const conversation = h.chatwoot.conversations.at(-1)!;
  assert.deepEqual(conversation.custom_attributes, { topic: "Billing" });
  await h.chatwoot.waitFor(
    () =>
      h.chatwoot.messages.some((m) =>
        m.private && m.conversation_id === conversation.id &&
        /refused this topic's labels/.test(m.content)
      ),
    "the note for the agents",
  );
  assert.ok(!JSON.stringify(h.discord.sentTo(userId)).includes("not delivered"));
  h.discord.sendDm({ userId, content: "hello? anyone?" });
  await h.chatwoot.waitFor(
    () => h.chatwoot.messages.some((m) => m.content === "hello? anyone?"),
    "the user's next DM in Chatwoot",
    2000,
  );
});
