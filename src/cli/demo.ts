/**
 * `cordwoot demo`: the real bridge (the same `startBridge` as `serve`) runs
 * against the bundled fake Discord and fake Chatwoot on 127.0.0.1, and a
 * scripted conversation plays out as a readable transcript. No accounts, no
 * network beyond loopback, nothing kept afterwards.
 */
import type { RunningBridge } from "../app/start_bridge.ts";
import { FakeChatwoot } from "../fakes/fake_chatwoot.ts";
import { FakeDiscord, type FakeMessage } from "../fakes/fake_discord.ts";
import { fakeEnv } from "../fakes/fake_env.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../log.ts";

type Start = (config: import("../config.ts").Config, options: {
  kv: Deno.Kv;
  log: import("../bridge/ports.ts").Logger;
}) => Promise<RunningBridge>;

export async function runDemo(startBridge: Start, out: (line: string) => void = console.log) {
  const discord = FakeDiscord.start();
  const chatwoot = FakeChatwoot.start({ webhookSecret: "demo-webhook-secret" });
  chatwoot.inbox.greeting_enabled = true;
  chatwoot.inbox.greeting_message =
    "Hi {{contact.first_name}}! Thanks for writing to Acme Support.";
  chatwoot.inbox.csat_survey_enabled = true;
  const loaded = loadConfig(fakeEnv(discord, chatwoot, {
    TRANSCRIPT_ON_RESOLVE: "true",
    TICKET_TOPICS: JSON.stringify([
      {
        label: "Shipping",
        emoji: "📦",
        description: "Where is my order?",
        team: 3,
        labels: ["shipping"],
      },
      { label: "Billing", emoji: "💳", description: "Invoices and refunds", labels: ["billing"] },
    ]),
  }));
  if (!loaded.ok) throw new Error(loaded.problems.join("; "));
  const kv = await Deno.openKv(":memory:");
  const log = createLogger({ level: "error", format: "pretty" });
  const bridge = await startBridge(loaded.config, { kv, log });
  chatwoot.webhookUrl = `http://127.0.0.1:${bridge.port}/webhook`;
  const say = (side: string, text: string) => out(`${side.padEnd(10)} ${text}`);
  const userId = "424242424242424242";
  const seen = new Set<string>();
  /** Waits for the next message the bot sends Alice and prints it. */
  const nextToAlice = async (what: string) => {
    const m = await discord.waitFor(
      () => discord.sentTo(userId).find((x) => !seen.has(x.id)),
      what,
    );
    seen.add(m.id);
    say("Discord", `bot → Alice: ${describe(m)}`);
    return m;
  };

  try {
    out("cordwoot demo — the real bridge between a fake Discord and a fake Chatwoot\n");
    await discord.waitFor(() => discord.connectedSessions > 0, "the bot to connect");
    say("Discord", "the bot is online (gateway connected)");

    const first = discord.sendDm({
      userId,
      username: "alice",
      globalName: "Alice",
      content: "Hi! My order #4411 never arrived.",
    });
    say("Discord", "Alice → bot: Hi! My order #4411 never arrived.");
    const menuMessage = await nextToAlice("the topic menu");
    const menu = (menuMessage.components as {
      components: { custom_id: string; options: { label: string; value: string }[] }[];
    }[])[0].components[0];
    const shipping = menu.options.find((o) => o.label === "Shipping")!;
    await discord.responseTo(
      discord.chooseOption(userId, menuMessage, menu.custom_id, [shipping.value]),
    );
    say("Discord", "Alice picks the topic 📦 Shipping (her message waited for it)");
    const inChatwoot = await chatwoot.waitFor(
      () => chatwoot.messages.find((m) => m.source_id === first.messageId),
      "the DM in Chatwoot",
    );
    const conversationId = inChatwoot.conversation_id;
    const opened = chatwoot.conversations.find((c) => c.id === conversationId)!;
    say(
      "Chatwoot",
      `new contact "Alice" (discord:${userId}), conversation #${conversationId} for team ${opened.team_id}, labels [${
        (opened.labels ?? []).join(", ")
      }]: "${inChatwoot.content}"`,
    );
    await discord.waitFor(
      () => discord.reactions.find((r) => r.messageId === first.messageId),
      "the ✅",
    );
    say("Discord", "the bot reacts ✅ to Alice's message (the team has it)");
    await nextToAlice("the greeting");

    await chatwoot.deliver(
      chatwoot.agentReply(
        conversationId,
        "Sorry about that, Alice! Could you check the label in this photo?",
        {
          files: [{ name: "label-example.png", contentType: "image/png", bytes: demoImage() }],
        },
      ),
    );
    say("Chatwoot", "Bob (agent) replies, attaching label-example.png");
    await nextToAlice("the agent's reply");

    const photo = discord.sendDm({
      userId,
      content: "Here is mine",
      files: [{ name: "my-label.jpg", contentType: "image/jpeg", bytes: demoImage() }],
    });
    say("Discord", "Alice → bot: Here is mine [📎 my-label.jpg]");
    const withFile = await chatwoot.waitFor(
      () => chatwoot.messages.find((m) => m.source_id === photo.messageId),
      "the photo",
    );
    say(
      "Chatwoot",
      `message with ${withFile.attachments?.length ?? 0} attachment (${
        withFile.attachments?.[0]?.name
      }, ${withFile.attachments?.[0]?.bytes.byteLength} bytes)`,
    );

    const paragraph = (n: number) =>
      `Step ${n}: ${
        "we have checked the carrier's records for your parcel and ".repeat(12).trim()
      }.`;
    const long = Array.from({ length: 6 }, (_, i) => paragraph(i + 1)).join("\n\n");
    // Counted before the webhook: on a busy machine the parts may arrive before it returns.
    const before = discord.sentTo(userId).length;
    await chatwoot.deliver(chatwoot.agentReply(conversationId, long));
    say("Chatwoot", `Bob sends a long update (${long.length} characters)`);
    await discord.waitFor(() => discord.sentTo(userId).length >= before + 3, "the parts");
    const parts = discord.sentTo(userId).slice(before);
    for (const p of parts) seen.add(p.id);
    const intact = parts.map((p) => p.content).join("\n\n") === long;
    say(
      "Discord",
      `bot → Alice: the update in ${parts.length} messages (${
        parts.map((p) => p.content.length).join(" + ")
      } characters)${intact ? ", text intact" : ""}`,
    );

    const question = chatwoot.agentReply(conversationId, "How should we send the replacement?", {
      contentType: "input_select",
      contentAttributes: {
        items: [{ title: "Standard (free)", value: "standard" }, {
          title: "Express (tomorrow)",
          value: "express",
        }],
      },
    });
    await chatwoot.deliver(question);
    say("Chatwoot", "Bob sends a question with two options (an interactive message)");
    const options = await nextToAlice("the options");
    const express = (options.components as {
      components: { custom_id: string; label: string }[];
    }[])[0].components.find((b) => b.label.startsWith("Express"))!;
    await discord.responseTo(discord.clickButton(userId, options, express.custom_id));
    say("Discord", `Alice clicks "${express.label}"`);
    const answered = await chatwoot.waitFor(
      () =>
        (chatwoot.messages.find((m) => m.id === question.id)?.content_attributes as {
          submitted_values?: { title: string }[];
        })?.submitted_values,
      "the answer",
    );
    say("Chatwoot", `the question shows her answer: ${answered[0].title}`);

    await chatwoot.deliver(
      chatwoot.agentReply(conversationId, "Express it is: a replacement is on its way."),
    );
    await nextToAlice("the last reply");

    for (const p of chatwoot.setStatus(conversationId, "resolved")) await chatwoot.deliver(p);
    say("Chatwoot", `Bob resolves conversation #${conversationId}`);
    await nextToAlice("the resolved notice");
    const prompt = await nextToAlice("the CSAT prompt");

    const button =
      (prompt.components as { components: { custom_id: string }[] }[])[0].components[0];
    const click = discord.clickButton(userId, prompt, button.custom_id);
    const modal = await discord.responseTo(click);
    say(
      "Discord",
      `Alice presses the button: a form opens (interaction response type ${modal.type})`,
    );
    const submit = discord.submitModal(userId, button.custom_id, {
      rating: "5",
      comment: "Quick and kind, thanks!",
    });
    say("Discord", 'Alice rates 5 and comments "Quick and kind, thanks!"');
    const rating = await chatwoot.waitFor(() => chatwoot.csatResponses[0], "the rating");
    say("Chatwoot", `CSAT response recorded: ${rating.rating}/5, "${rating.feedback}"`);
    const thanks = await discord.editOf(submit);
    say("Discord", `bot → Alice (only she sees it): ${describeEmbeds(thanks.embeds)}`);
    out("\nDone: every message above crossed the real bridge, its mailboxes and both fakes.");
    return 0;
  } finally {
    await bridge.stop();
    kv.close();
    await discord.close();
    await chatwoot.close();
  }
}

function describe(m: FakeMessage): string {
  const parts: string[] = [];
  if (m.content) parts.push(m.content.length > 90 ? `${m.content.slice(0, 87)}…` : m.content);
  if ((m.embeds as unknown[])?.length) parts.push(describeEmbeds(m.embeds));
  for (const f of (m.files ?? []) as { name: string; bytes: Uint8Array }[]) {
    parts.push(`[📎 ${f.name}, ${f.bytes.byteLength} bytes]`);
  }
  const components = ((m.components ?? []) as {
    components: { label?: string; placeholder?: string; options?: { label: string }[] }[];
  }[]).flatMap((row) => row.components);
  for (const c of components) {
    parts.push(
      c.options
        ? `[menu: ${c.options.map((o) => o.label).join(" | ")}]`
        : `[button: ${c.label ?? ""}]`,
    );
  }
  return parts.join(" ");
}

function describeEmbeds(embeds: unknown): string {
  return ((embeds ?? []) as { title?: string; description?: string }[])
    .map((e) => `〔${[e.title, e.description].filter(Boolean).join(": ")}〕`).join(" ");
}

/** A tiny valid PNG (1×1 pixel), so the "photos" are real images. */
function demoImage(): Uint8Array {
  return Uint8Array.from(
    atob(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    ),
    (c) => c.charCodeAt(0),
  );
}
