/**
 * The fake Discord's guild, threads and gateway intents, checked on the fake
 * alone (no bridge) so the closed-DMs fallback's tests can trust it: a guild
 * text channel, private threads the bot opens and adds guild members to,
 * messages, edits, deletes and reactions in threads, users writing in threads
 * over the gateway, closed DMs that open again, and guild message events
 * filtered by the session's intents (GUILD_MESSAGES, MESSAGE_CONTENT).
 */
import assert from "node:assert/strict";
import { FakeDiscord, GUILD_MESSAGES, MESSAGE_CONTENT } from "../src/fakes/fake_discord.ts";

const USER = "333333333333333301";
const STRANGER = "333333333333333302";
const DIRECT_MESSAGES = 1 << 12;

async function withDiscord(fn: (discord: FakeDiscord) => Promise<void>) {
  const discord = FakeDiscord.start();
  try {
    await fn(discord);
  } finally {
    await discord.close();
  }
}

async function rest(discord: FakeDiscord, method: string, path: string, body?: unknown) {
  const res = await fetch(`${discord.restBase}/v10${path}`, {
    method,
    headers: { authorization: `Bot ${discord.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A private thread in the fallback channel with USER in it. */
async function privateThread(discord: FakeDiscord, name = "Ticket 42") {
  discord.guildMembers.add(USER);
  const created = await rest(discord, "POST", `/channels/${discord.fallbackChannelId}/threads`, {
    name,
    type: 12,
    auto_archive_duration: 10080,
    invitable: false,
  });
  assert.equal(created.status, 201);
  const added = await rest(
    discord,
    "PUT",
    `/channels/${created.body.id}/thread-members/${USER}`,
  );
  assert.equal(added.status, 204);
  return created.body.id as string;
}

type Packet = { op: number; t?: string; s?: number; d: Record<string, unknown> };

/**
 * A raw gateway session identified with `intents` (or resuming `resume`),
 * collecting every dispatch.
 */
async function session(
  discord: FakeDiscord,
  intents: number,
  resume?: string,
) {
  const events: Packet[] = [];
  const socket = new WebSocket(discord.gatewayUrl);
  const ready = Promise.withResolvers<string>();
  socket.onmessage = (event) => {
    const packet = JSON.parse(String(event.data)) as Packet;
    if (packet.op === 10) {
      const token = `Bot ${discord.token}`;
      socket.send(JSON.stringify(
        resume
          ? { op: 6, d: { token, session_id: resume, seq: 1 } }
          : { op: 2, d: { token, intents, properties: {} } },
      ));
    }
    if (packet.t === "READY") ready.resolve(String(packet.d.session_id));
    if (packet.t === "RESUMED") ready.resolve(resume!);
    if (packet.op === 0 && packet.t !== "READY" && packet.t !== "RESUMED") events.push(packet);
  };
  const sessionId = await ready.promise;
  const closed = new Promise((r) => (socket.onclose = r));
  return {
    sessionId,
    events,
    /** The dispatches up to and including the first `t` whose `d` passes `match`. */
    async until(t: string, match: (d: Record<string, unknown>) => boolean) {
      await discord.waitFor(() => events.some((e) => e.t === t && match(e.d)), `${t} event`, 2000);
      return events.slice(0, events.findIndex((e) => e.t === t && match(e.d)) + 1);
    },
    async close() {
      socket.close();
      await closed;
    },
  };
}

Deno.test("fake discord: the guild's text channel and private threads the bot opens", async () => {
  await withDiscord(async (discord) => {
    assert.ok(discord.guildMembers.has(discord.botId), "the bot is in the guild");
    const channel = await rest(discord, "GET", `/channels/${discord.fallbackChannelId}`);
    assert.equal(channel.status, 200);
    assert.equal(channel.body.type, 0);
    assert.equal(channel.body.guild_id, discord.guildId);

    const threadId = await privateThread(discord);
    const thread = await rest(discord, "GET", `/channels/${threadId}`);
    assert.equal(thread.status, 200);
    assert.equal(thread.body.type, 12);
    assert.equal(thread.body.guild_id, discord.guildId);
    assert.equal(thread.body.parent_id, discord.fallbackChannelId);
    assert.equal(thread.body.name, "Ticket 42");
    assert.equal(thread.body.owner_id, discord.botId);
    assert.equal(thread.body.member_count, 2);
    assert.equal(thread.body.message_count, 0);
    assert.deepEqual(
      {
        archived: thread.body.thread_metadata.archived,
        auto_archive_duration: thread.body.thread_metadata.auto_archive_duration,
        locked: thread.body.thread_metadata.locked,
        invitable: thread.body.thread_metadata.invitable,
      },
      { archived: false, auto_archive_duration: 10080, locked: false, invitable: false },
    );
    assert.deepEqual([...discord.threads.get(threadId)!.members], [discord.botId, USER]);

    // Adding twice is fine; someone outside the guild is an Unknown Member.
    assert.equal(
      (await rest(discord, "PUT", `/channels/${threadId}/thread-members/${USER}`)).status,
      204,
    );
    const stranger = await rest(discord, "PUT", `/channels/${threadId}/thread-members/${STRANGER}`);
    assert.deepEqual([stranger.status, stranger.body.code], [404, 10007]);
    const nowhere = await rest(
      discord,
      "PUT",
      `/channels/123456789012345678/thread-members/${USER}`,
    );
    assert.deepEqual([nowhere.status, nowhere.body.code], [404, 10003]);
    discord.archiveThread(threadId);
    const archived = await rest(discord, "PUT", `/channels/${threadId}/thread-members/${USER}`);
    assert.deepEqual([archived.status, archived.body.code], [400, 50083]);
    assert.deepEqual(
      [(await rest(discord, "GET", "/channels/123456789012345678")).body.code],
      [10003],
    );
  });
});

Deno.test("fake discord: thread bodies outside Discord's limits are refused", async () => {
  await withDiscord(async (discord) => {
    const start = (body: Record<string, unknown>, parent = discord.fallbackChannelId) =>
      rest(discord, "POST", `/channels/${parent}/threads`, body);
    for (
      const body of [
        { name: "", type: 12 },
        { name: "x".repeat(101), type: 12 },
        { type: 12 },
        { name: "t", type: 0 },
        { name: "t", type: 10 },
        { name: "t", type: 12, auto_archive_duration: 30 },
      ]
    ) {
      const refused = await start(body);
      assert.deepEqual([refused.status, refused.body.code], [400, 50035], JSON.stringify(body));
    }
    assert.equal(discord.invalidBodies.length, 6);
    assert.equal(discord.threads.size, 0);
    const unknown = await start({ name: "t", type: 12 }, "123456789012345678");
    assert.deepEqual([unknown.status, unknown.body.code], [404, 10003]);
    const inDm = await start({ name: "t", type: 12 }, discord.dmChannelOf(USER));
    assert.deepEqual([inDm.status, inDm.body.code], [400, 50024]);
    // A name of 100 characters, no type (private, as in API v10) and the default archive time.
    const ok = await start({ name: "x".repeat(100) });
    assert.deepEqual(
      [ok.status, ok.body.type, ok.body.thread_metadata.auto_archive_duration],
      [201, 12, 1440],
    );
    assert.equal((await start({ name: "public", type: 11 })).body.type, 11);
  });
});

Deno.test("fake discord: the bot's messages in a thread: limits, nonce, edits, deletes, reactions, un-archiving", async () => {
  await withDiscord(async (discord) => {
    const threadId = await privateThread(discord);
    const post = (body: unknown) => rest(discord, "POST", `/channels/${threadId}/messages`, body);
    const first = await post({ content: "Hello", nonce: "n1", enforce_nonce: true });
    assert.equal(first.status, 200);
    assert.equal(first.body.channel_id, threadId);
    assert.equal(first.body.guild_id, discord.guildId);
    assert.equal(
      (await post({ content: "Hello", nonce: "n1", enforce_nonce: true })).body.id,
      first.body.id,
    );
    assert.deepEqual([(await post({ content: "x".repeat(2001) })).status], [400]);
    assert.equal((await post({ content: " " })).body.code, 50006);
    const badButton = await post({
      content: "pick",
      components: [{ type: 1, components: [{ type: 2, style: 1, label: "no id" }] }],
    });
    assert.equal(badButton.body.code, 50035);
    assert.equal(discord.invalidBodies.at(-1)?.path, `/channels/${threadId}/messages`);

    // Files arrive as multipart, like in DMs.
    const form = new FormData();
    form.set("payload_json", JSON.stringify({ content: "the log", embeds: [{ title: "Notice" }] }));
    form.set("files[0]", new File(["log line"], "log.txt", { type: "text/plain" }));
    const withFile = await fetch(`${discord.restBase}/v10/channels/${threadId}/messages`, {
      method: "POST",
      headers: { authorization: `Bot ${discord.token}` },
      body: form,
    });
    assert.equal(withFile.status, 200);
    await withFile.body?.cancel();

    const inThread = discord.sentInThread(threadId);
    assert.deepEqual(inThread.map((m) => m.content), ["Hello", "the log"]);
    assert.equal(
      new TextDecoder().decode((inThread[1].files as { bytes: Uint8Array }[])[0].bytes),
      "log line",
    );
    assert.equal(discord.sentTo(USER).length, 0, "nothing went to the user's DMs");

    const edited = await rest(discord, "PATCH", `/channels/${threadId}/messages/${first.body.id}`, {
      content: "Hello again",
    });
    assert.equal(edited.body.content, "Hello again");
    assert.equal(discord.messageEdits.at(-1)?.channelId, threadId);
    const reacted = await rest(
      discord,
      "PUT",
      `/channels/${threadId}/messages/${first.body.id}/reactions/${encodeURIComponent("✅")}/@me`,
    );
    assert.equal(reacted.status, 204);
    assert.deepEqual(discord.reactions.at(-1), {
      channelId: threadId,
      messageId: first.body.id,
      emoji: "✅",
    });
    assert.equal(
      (await rest(discord, "DELETE", `/channels/${threadId}/messages/${first.body.id}`)).status,
      204,
    );
    assert.deepEqual(discord.sentInThread(threadId).map((m) => m.content), ["the log"]);
    assert.deepEqual(discord.deleted.at(-1), { channelId: threadId, messageId: first.body.id });

    discord.archiveThread(threadId);
    assert.equal(
      (await rest(discord, "GET", `/channels/${threadId}`)).body.thread_metadata.archived,
      true,
    );
    assert.equal((await post({ content: "still there?" })).status, 200);
    const after = await rest(discord, "GET", `/channels/${threadId}`);
    assert.equal(after.body.thread_metadata.archived, false, "a message un-archives the thread");
    assert.equal(after.body.message_count, 3);
  });
});

Deno.test("fake discord: a user writes, edits and deletes in a thread over the gateway", async () => {
  await withDiscord(async (discord) => {
    const threadId = await privateThread(discord);
    const gateway = await session(discord, GUILD_MESSAGES | MESSAGE_CONTENT | DIRECT_MESSAGES);
    try {
      const { messageId } = discord.sendThreadMessage({
        userId: USER,
        threadId,
        content: "here is the screenshot",
        files: [{ name: "shot.png", contentType: "image/png", bytes: new Uint8Array([1, 2, 3]) }],
        replyTo: "123456789012345670",
      });
      const [created] = await gateway.until("MESSAGE_CREATE", (d) => d.id === messageId);
      assert.equal(created.d.guild_id, discord.guildId);
      assert.equal(created.d.channel_id, threadId);
      assert.equal(created.d.content, "here is the screenshot");
      assert.equal((created.d.author as { id: string }).id, USER);
      assert.ok(Array.isArray((created.d.member as { roles: unknown }).roles));
      assert.equal(
        (created.d.message_reference as { message_id: string }).message_id,
        "123456789012345670",
      );
      const [attachment] = created.d.attachments as { url: string; size: number }[];
      assert.equal(attachment.size, 3);
      const served = await fetch(attachment.url);
      assert.deepEqual(new Uint8Array(await served.arrayBuffer()), new Uint8Array([1, 2, 3]));

      discord.editThreadMessage(messageId, "here is the right screenshot");
      const edits = await gateway.until("MESSAGE_UPDATE", (d) => d.id === messageId);
      assert.equal(edits.at(-1)!.d.content, "here is the right screenshot");
      assert.equal(edits.at(-1)!.d.guild_id, discord.guildId);
      discord.deleteThreadMessage(threadId, messageId);
      const deletes = await gateway.until("MESSAGE_DELETE", (d) => d.id === messageId);
      assert.deepEqual(deletes.at(-1)!.d, {
        id: messageId,
        channel_id: threadId,
        guild_id: discord.guildId,
      });

      assert.throws(
        () => discord.sendThreadMessage({ userId: STRANGER, threadId, content: "let me in" }),
        /not in thread/,
      );
      discord.archiveThread(threadId);
      discord.sendThreadMessage({ userId: USER, threadId, content: "back again" });
      assert.equal(discord.threads.get(threadId)!.thread_metadata.archived, false);
    } finally {
      await gateway.close();
    }
  });
});

Deno.test("fake discord: closed DMs can be opened as a channel, refuse sends, and open again", async () => {
  await withDiscord(async (discord) => {
    discord.closedDms.add(USER);
    const channel = await rest(discord, "POST", "/users/@me/channels", { recipient_id: USER });
    assert.equal(channel.status, 200);
    assert.equal(channel.body.type, 1);
    const refused = await rest(discord, "POST", `/channels/${channel.body.id}/messages`, {
      content: "hi",
    });
    assert.deepEqual([refused.status, refused.body.code], [403, 50007]);
    discord.closedDms.delete(USER);
    const sent = await rest(discord, "POST", `/channels/${channel.body.id}/messages`, {
      content: "hi",
    });
    assert.equal(sent.status, 200);
    assert.deepEqual(discord.sentTo(USER).map((m) => m.content), ["hi"]);
  });
});

Deno.test("fake discord: guild message events follow the session's intents; DMs do not", async () => {
  await withDiscord(async (discord) => {
    const threadId = await privateThread(discord);
    const dmsOnly = await session(discord, DIRECT_MESSAGES);
    const noContent = await session(discord, DIRECT_MESSAGES | GUILD_MESSAGES);
    const full = await session(discord, DIRECT_MESSAGES | GUILD_MESSAGES | MESSAGE_CONTENT);
    try {
      assert.deepEqual(discord.identifiedIntents, [
        DIRECT_MESSAGES,
        DIRECT_MESSAGES | GUILD_MESSAGES,
        DIRECT_MESSAGES | GUILD_MESSAGES | MESSAGE_CONTENT,
      ]);
      const plain = discord.sendThreadMessage({
        userId: USER,
        threadId,
        content: "secret words",
        files: [{ name: "a.txt", contentType: "text/plain", bytes: new Uint8Array([65]) }],
      });
      const mention = discord.sendThreadMessage({
        userId: USER,
        threadId,
        content: "hey bot",
        mentions: [{ id: discord.botId, username: "fakebot" }],
      });
      const dm = discord.sendDm({ userId: USER, content: "a DM" });
      const isDm = (d: Record<string, unknown>) => d.id === dm.messageId;

      // Events arrive in order: seeing the DM means the guild messages were (or were not) sent.
      const toDmsOnly = await dmsOnly.until("MESSAGE_CREATE", isDm);
      assert.deepEqual(
        toDmsOnly.map((e) => e.d.id),
        [dm.messageId],
        "no guild messages without GUILD_MESSAGES",
      );
      assert.equal(toDmsOnly[0].d.content, "a DM");

      const blanked = await noContent.until("MESSAGE_CREATE", isDm);
      assert.deepEqual(blanked.map((e) => e.d.id), [
        plain.messageId,
        mention.messageId,
        dm.messageId,
      ]);
      assert.deepEqual([blanked[0].d.content, blanked[0].d.attachments], ["", []]);
      assert.equal(
        blanked[1].d.content,
        "hey bot",
        "a message mentioning the bot keeps its content",
      );
      assert.equal(blanked[2].d.content, "a DM", "DMs keep their content");

      const whole = await full.until("MESSAGE_CREATE", isDm);
      assert.deepEqual(whole.map((e) => e.d.content), ["secret words", "hey bot", "a DM"]);
      assert.equal((whole[0].d.attachments as unknown[]).length, 1);
    } finally {
      await Promise.all([dmsOnly.close(), noContent.close(), full.close()]);
    }
  });
});

Deno.test("fake discord: a resumed session keeps the intents it was identified with", async () => {
  await withDiscord(async (discord) => {
    const threadId = await privateThread(discord);
    const first = await session(discord, GUILD_MESSAGES | MESSAGE_CONTENT);
    await first.close();
    // A later IDENTIFY without GUILD_MESSAGES must not change what the first session gets.
    const other = await session(discord, DIRECT_MESSAGES);
    const resumed = await session(discord, 0, first.sessionId);
    try {
      const { messageId } = discord.sendThreadMessage({
        userId: USER,
        threadId,
        content: "after resume",
      });
      const seen = await resumed.until("MESSAGE_CREATE", (d) => d.id === messageId);
      assert.equal(seen.at(-1)!.d.content, "after resume");
      assert.equal(discord.identifiedIntents.length, 2, "RESUME is no IDENTIFY");
    } finally {
      await Promise.all([other.close(), resumed.close()]);
    }
  });
});
