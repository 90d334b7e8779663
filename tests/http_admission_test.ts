/**
 * Who gets the HTTP server's capacity: strangers holding slow bodies or idle
 * connections cannot shut out an address that proved itself with a signed
 * webhook; one unproven address holds only its share; a body that trickles
 * is cut. Clients are raw TCP sockets bound to distinct loopback addresses
 * (127.0.0.2, 127.0.0.3, …: all of 127.0.0.0/8 is loopback on Linux), so the
 * server sees real distinct remote addresses.
 */
import { parseWebhook } from "../src/chatwoot/webhook.ts";
import assert from "node:assert/strict";
import net from "node:net";
import { createSignatureVerifier } from "../src/chatwoot/webhook.ts";
import { hmacHex } from "../src/fakes/fake_chatwoot.ts";
import { createHttpApp, type HttpDeps } from "../src/http/app.ts";
import type { BodyLimits } from "../src/http/bounded_body.ts";
import { addressKey, createProvenSenders } from "../src/http/proven_senders.ts";
import { type ConnectionLimits, serveHttp } from "../src/http/server.ts";
import { createLogger } from "../src/log.ts";

const SECRET = "admission-test-secret";
const CHATWOOT = "127.0.0.1";

async function startServer(
  limits: { body?: Partial<BodyLimits>; connection?: Partial<ConnectionLimits> } = {},
) {
  const accepted = { webhooks: 0 };
  const senders = createProvenSenders();
  const deps: HttpDeps = {
    parseWebhook,
    log: createLogger({ level: "error", format: "json", write: () => {} }),
    verifySignature: await createSignatureVerifier(SECRET),
    acceptMessageEvent: () => Promise.resolve({ status: "dropped", reason: "test" }),
    acceptStatusEvent: () => Promise.resolve({ status: "ignored" } as never),
    acceptTyping: () => {},
    acceptContact: () => Promise.resolve(),
    health: () => Promise.resolve({ healthy: true }),
    metrics: () => Promise.resolve(""),
    firstDelivery: () => Promise.resolve(true),
    countWebhook: (outcome) => {
      if (outcome !== "bad_signature") accepted.webhooks++;
    },
    bodyLimits: limits.body,
    senders,
  };
  const server = await serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: createHttpApp(deps).fetch,
    limits: limits.connection,
    senders,
  });
  return { port: server.addr.port, accepted, [Symbol.asyncDispose]: () => server.shutdown() };
}

/** A raw connection from `from`, recording what the server sends and when it closes. */
interface Client {
  socket: net.Socket;
  received(): string;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
}

function connectFrom(from: string, port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
    let text = "";
    let isClosed = false;
    const closed = new Promise<void>((done) =>
      socket.on("close", () => {
        isClosed = true;
        done();
      })
    );
    socket.on("data", (chunk: Uint8Array) => text += new TextDecoder().decode(chunk));
    socket.on("error", () => {}); // a reset is a close all the same
    socket.once(
      "connect",
      () => resolve({ socket, received: () => text, closed, isClosed: () => isClosed }),
    );
    socket.once("error", reject);
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The status the server answered on `client` (waiting for it to close), or undefined. */
async function statusOf(client: Client, waitMs = 3_000): Promise<number | undefined> {
  await Promise.race([client.closed, pause(waitMs)]);
  const status = /^HTTP\/1\.1 (\d{3})/.exec(client.received())?.[1];
  return status ? Number(status) : undefined;
}

/** A correctly signed webhook (an event the bridge ignores), sent on its own connection. */
async function signedWebhook(from: string, port: number): Promise<number | undefined> {
  const body = JSON.stringify({ event: "webhook_test" });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = await hmacHex(SECRET, `${timestamp}.${body}`);
  const client = await connectFrom(from, port);
  client.socket.write(
    `POST /webhook HTTP/1.1\r\nhost: bridge\r\nconnection: close\r\n` +
      `content-type: application/json\r\nx-chatwoot-timestamp: ${timestamp}\r\n` +
      `x-chatwoot-signature: sha256=${signature}\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
  return await statusOf(client);
}

/** A forged webhook whose body never comes: it holds a body slot until a bound cuts it. */
async function slowForgedBody(from: string, port: number): Promise<Client> {
  const client = await connectFrom(from, port);
  client.socket.write(
    `POST /webhook HTTP/1.1\r\nhost: bridge\r\nx-chatwoot-signature: forged\r\n` +
      `x-chatwoot-timestamp: 1\r\ncontent-length: 1000\r\n\r\n{`,
  );
  return client;
}

/** A complete webhook with a forged signature: 401 once read, unless refused before. */
async function forgedWebhook(from: string, port: number, size = 100): Promise<number | undefined> {
  const client = await connectFrom(from, port);
  client.socket.write(
    `POST /webhook HTTP/1.1\r\nhost: bridge\r\nconnection: close\r\n` +
      `x-chatwoot-signature: sha256=${"0".repeat(64)}\r\nx-chatwoot-timestamp: 1\r\n` +
      `content-length: ${size}\r\n\r\n${" ".repeat(size)}`,
  );
  return await statusOf(client);
}

async function get(client: Client, path: string): Promise<number | undefined> {
  client.socket.write(`GET ${path} HTTP/1.1\r\nhost: bridge\r\nconnection: close\r\n\r\n`);
  return await statusOf(client);
}

Deno.test("slow forged bodies: one address takes only its share, and a proven Chatwoot's burst of 50 signed webhooks is all accepted", async () => {
  // Long enough bounds that the forged bodies hold their slots for the whole test.
  await using server = await startServer({ body: { deadlineMs: 4_000, rateGraceMs: 4_000 } });
  assert.equal(await signedWebhook(CHATWOOT, server.port), 200, "Chatwoot proves its address");
  const held: Client[] = [];
  try {
    // One address tries to take every body slot (32): it gets 8, the rest wait unread.
    for (let i = 0; i < 40; i++) held.push(await slowForgedBody("127.0.0.2", server.port));
    await pause(150);
    assert.equal(
      await forgedWebhook("127.0.0.3", server.port),
      401,
      "another address is still read (and refused for its signature)",
    );
    // Three more addresses take their 8 each: every shared slot is held.
    for (const from of ["127.0.0.3", "127.0.0.4", "127.0.0.5"]) {
      for (let i = 0; i < 8; i++) held.push(await slowForgedBody(from, server.port));
    }
    await pause(150);
    assert.equal(await forgedWebhook("127.0.0.6", server.port), 503, "a stranger, at once");

    const before = server.accepted.webhooks;
    const burst = await Promise.all(
      Array.from({ length: 50 }, () => signedWebhook(CHATWOOT, server.port)),
    );
    assert.deepEqual(burst.filter((s) => s !== 200), [], "every webhook of the burst got 200");
    assert.equal(server.accepted.webhooks - before, 50);
  } finally {
    for (const c of held) c.socket.destroy();
  }
});

Deno.test("a burst of 25 bodies from one unproven address is read in turn, none refused", async () => {
  await using server = await startServer();
  const statuses = await Promise.all(
    Array.from({ length: 25 }, () => forgedWebhook("127.0.0.2", server.port, 100_000)),
  );
  assert.deepEqual(
    statuses.filter((s) => s !== 401),
    [],
    "each was read, then refused for its signature",
  );
});

Deno.test("idle connections: one unproven address holds at most its share; a proven address gets the reserve", async () => {
  await using server = await startServer({
    connection: {
      maxConnections: 20,
      maxConnectionsPerAddress: 8,
      reservedForProven: 4,
      headTimeoutMs: 5_000,
    },
  });
  assert.equal(await signedWebhook(CHATWOOT, server.port), 200, "Chatwoot proves its address");
  const open = async (from: string, count: number) => {
    const clients = [];
    for (let i = 0; i < count; i++) clients.push(await connectFrom(from, server.port));
    return clients;
  };
  const all: Client[] = [];
  try {
    const first = await open("127.0.0.2", 10);
    const second = await open("127.0.0.3", 8);
    const third = await open("127.0.0.4", 8);
    const late = await open("127.0.0.5", 1);
    all.push(...first, ...second, ...third, ...late);
    await pause(200);
    const stillOpen = (clients: Client[]) => clients.filter((c) => !c.isClosed()).length;
    assert.equal(stillOpen(first), 8, "an unproven address holds at most 8");
    assert.equal(stillOpen(second), 8);
    assert.equal(stillOpen(third), 4, "the 20 shared connections are all taken");
    assert.equal(stillOpen(late), 0);

    const proven = await open(CHATWOOT, 5);
    all.push(...proven);
    await pause(200);
    assert.equal(stillOpen(proven), 4, "the 4 reserved connections");
    assert.equal(await get(proven[0], "/healthz"), 200, "and they are served");
    assert.equal(await get(first[0], "/healthz"), 200, "an admitted stranger is served too");
  } finally {
    for (const c of all) c.socket.destroy();
  }
});

Deno.test("a body trickling under the minimum rate is cut with 408 after the grace period, not at the deadline; a steady one is read", async () => {
  await using server = await startServer({
    body: { deadlineMs: 5_000, rateGraceMs: 300, minBytesPerSecond: 16 * 1024 },
  });
  const head = (length: number) =>
    `POST /webhook HTTP/1.1\r\nhost: bridge\r\nconnection: close\r\n` +
    `x-chatwoot-signature: sha256=00\r\nx-chatwoot-timestamp: 1\r\n` +
    `content-length: ${length}\r\n\r\n`;
  const send = (client: Client, bytes: number, everyMs: number, total: number) => {
    let sent = 0;
    const timer = setInterval(() => {
      if (client.isClosed() || sent >= total) return clearInterval(timer);
      client.socket.write(" ".repeat(Math.min(bytes, total - sent)));
      sent += bytes;
    }, everyMs);
    return timer;
  };

  // 1 KiB every 100 ms: 10 KiB/s.
  const slow = await connectFrom("127.0.0.2", server.port);
  slow.socket.write(head(200 * 1024));
  const slowTimer = send(slow, 1024, 100, 200 * 1024);
  const started = performance.now();
  const slowStatus = await statusOf(slow);
  const cutAfter = performance.now() - started;
  clearInterval(slowTimer);
  assert.equal(slowStatus, 408);
  assert.match(slow.received(), /connection: close/i);
  assert.ok(slow.isClosed(), "and the connection closed");
  assert.ok(cutAfter < 1_500, `cut after ${cutAfter.toFixed(0)} ms, well before the 5 s deadline`);

  // 32 KiB every 100 ms: 320 KiB/s, for about a second (longer than the grace period).
  const steady = await connectFrom("127.0.0.3", server.port);
  steady.socket.write(head(320 * 1024));
  const steadyTimer = send(steady, 32 * 1024, 100, 320 * 1024);
  const steadyStatus = await statusOf(steady);
  clearInterval(steadyTimer);
  assert.equal(steadyStatus, 401, "read to its end, then refused for its forged signature");
});

Deno.test("a proof lasts an hour, and an IPv4 client of an IPv6 socket is the same address", () => {
  let now = 0;
  const senders = createProvenSenders({ now: () => now });
  senders.prove("::ffff:203.0.113.7");
  assert.ok(senders.isProven("203.0.113.7"));
  assert.ok(!senders.isProven("203.0.113.8"));
  now += 3_599_999;
  assert.ok(senders.isProven("203.0.113.7"));
  now += 1;
  assert.ok(!senders.isProven("203.0.113.7"), "expired after an hour");
  assert.equal(addressKey("::FFFF:10.0.0.1"), "10.0.0.1");
  assert.equal(addressKey("2001:db8::1"), "2001:db8::1");
});
