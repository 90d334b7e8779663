/**
 * The HTTP listener: a fetch-style handler served over `node:http`, with
 * every connection bounded in time.
 *
 * Why not `Deno.serve`: on Deno 2.9 it has no connection timeouts at all. A
 * connection that sends nothing, half a request head, or half a body is held
 * open forever, and answering 408 (even with `Connection: close`) does not
 * close it (measured: still open after 70 s). `node:http` hands over the
 * socket, so the bridge can close what it will not serve:
 *
 * - a connection must complete a request head within `headTimeoutMs` of
 *   opening, and of its previous answer when kept alive;
 * - after an answer, a connection whose request body was not read to its end
 *   (refused, too slow, too large) or that was answered `Connection: close`
 *   is closed: ended at once, destroyed `lingerMs` later if the client stalls;
 * - connections are slots (admission.ts): `maxConnections` for any address,
 *   at most `maxConnectionsPerAddress` of them held by one unproven address,
 *   and `reservedForProven` more only for addresses that delivered a
 *   correctly signed request lately (proven_senders.ts), so a crowd of idle
 *   strangers cannot shut Chatwoot out. A connection without a slot is
 *   closed on arrival.
 *
 * The handler gets the client's address the way Deno.serve gives it
 * (`info.remoteAddr`), so the same app runs under both.
 *
 * Bodies are read by the handler within its own bounds (bounded_body.ts);
 * one that is not read stays in the kernel's buffers, not in this process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { createAdmission, type Slot } from "./admission.ts";
import { addressKey, createProvenSenders, type ProvenSenders } from "./proven_senders.ts";

export interface ConnectionLimits {
  headTimeoutMs: number;
  lingerMs: number;
  /** Connections open at once, from any address. */
  maxConnections: number;
  /** Connections one unproven address may hold open. */
  maxConnectionsPerAddress: number;
  /** Connections on top of `maxConnections`, for proven addresses only. */
  reservedForProven: number;
}

const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headTimeoutMs: 10_000,
  lingerMs: 1_000,
  maxConnections: 1_024,
  maxConnectionsPerAddress: 64,
  reservedForProven: 64,
};

/** What the handler learns about the connection, shaped like Deno.ServeHandlerInfo. */
export interface ServeInfo {
  remoteAddr: { transport: "tcp"; hostname: string; port: number };
}

/** Shaped like Deno.HttpServer where the bridge uses it. */
export interface HttpServer {
  readonly addr: { hostname: string; port: number };
  /** Stops accepting, lets answers in progress finish (a few seconds at most), closes the rest. */
  shutdown(): Promise<void>;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  handler: (request: Request, info: ServeInfo) => Response | Promise<Response>;
  limits?: Partial<ConnectionLimits>;
  /** Addresses proven by signed requests (the app marks them); default: none ever proven. */
  senders?: ProvenSenders;
  /** Called when the handler itself throws (the client gets a bare 500). */
  onError?: (error: unknown) => void;
}

export async function serveHttp(options: ServeOptions): Promise<HttpServer> {
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  const sockets = new Set<Socket>();
  const slots = createAdmission({
    shared: limits.maxConnections,
    reserved: limits.reservedForProven,
    perUnprovenAddress: limits.maxConnectionsPerAddress,
  }, options.senders ?? createProvenSenders());
  const busy = new Set<Socket>();
  /** Each connection's one pending timer: its head timeout, or its linger once ended. */
  const timers = new Map<Socket, ReturnType<typeof setTimeout>>();
  let stopping = false;

  const destroyIn = (socket: Socket, ms: number) => {
    clearTimeout(timers.get(socket));
    timers.set(socket, setTimeout(() => socket.destroy(), ms));
  };
  /** The connection has this long to deliver a complete request head. */
  const awaitHead = (socket: Socket) => destroyIn(socket, limits.headTimeoutMs);
  const close = (socket: Socket) => {
    socket.end();
    destroyIn(socket, limits.lingerMs);
  };

  const server = createServer((req, res) => {
    const socket = req.socket;
    clearTimeout(timers.get(socket));
    timers.delete(socket);
    busy.add(socket);
    answer(req, res, options)
      .catch((error) => {
        options.onError?.(error);
        if (!res.headersSent) res.writeHead(500, { connection: "close" });
        res.end();
      })
      .finally(() => {
        busy.delete(socket);
        const keepAlive = !stopping && req.complete &&
          res.getHeader("connection")?.toString().toLowerCase() !== "close";
        if (keepAlive) awaitHead(socket);
        else close(socket);
      });
  });
  server.on("connection", (socket: Socket) => {
    const slot: Slot | undefined = stopping ? undefined : slots.take(remoteAddress(socket));
    if (!slot) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => {
      slot.release();
      sockets.delete(socket);
      busy.delete(socket);
      clearTimeout(timers.get(socket));
      timers.delete(socket);
    });
    awaitHead(socket);
  });
  // A request head that cannot be parsed (or is too large): nothing to answer, close.
  server.on("clientError", (_error: Error, socket: Socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(asDenoError(error, options)));
    server.listen(options.port, options.hostname, () => resolve());
  });
  server.on("error", (error) => options.onError?.(error));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;

  return {
    addr: { hostname: options.hostname, port },
    async shutdown() {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) if (!busy.has(socket)) socket.destroy();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([closed, new Promise((r) => timer = setTimeout(r, 5_000))]);
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      for (const t of timers.values()) clearTimeout(t);
      await closed;
    },
  };
}

/** Hands the request to the fetch-style handler and writes its answer. */
async function answer(req: IncomingMessage, res: ServerResponse, options: ServeOptions) {
  const socket = req.socket;
  // The request's signal aborts when the client goes away, as under Deno.serve.
  const gone = new AbortController();
  const abort = () => gone.abort();
  socket.once("close", abort);
  try {
    await answerRequest(req, res, options, gone.signal);
  } finally {
    socket.off("close", abort);
  }
}

async function answerRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: ServeOptions,
  signal: AbortSignal,
) {
  let request: Request;
  try {
    request = toRequest(req, options.hostname, signal);
  } catch {
    res.writeHead(400, { connection: "close", "content-type": "text/plain" });
    res.end("bad request");
    return;
  }
  const response = await options.handler(request, {
    remoteAddr: {
      transport: "tcp",
      hostname: remoteAddress(req.socket),
      port: req.socket.remotePort ?? 0,
    },
  });
  // Answers are small (JSON, metrics text): written whole, with their length.
  const body = response.body ? new Uint8Array(await response.arrayBuffer()) : undefined;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) headers[name] = value;
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers["set-cookie"] = cookies;
  headers["content-length"] = String(body?.byteLength ?? 0);
  res.writeHead(response.status, headers);
  await new Promise<void>((resolve) => res.end(body, () => resolve()));
}

/** The client's IP address (an IPv4 client of an IPv6 socket as plain IPv4). */
function remoteAddress(socket: Socket): string {
  return addressKey(socket.remoteAddress ?? "");
}

/** A fetch Request whose body streams from the socket only as the handler reads it. */
function toRequest(req: IncomingMessage, hostname: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const url = new URL(req.url ?? "/", `http://${headers.get("host") ?? hostname}`);
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") {
    req.resume();
    return new Request(url, { method, headers, signal });
  }
  let finished = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Uint8Array) => {
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.on("end", () => {
        finished = true;
        controller.close();
      });
      req.on("close", () => {
        if (finished) return;
        finished = true;
        try {
          controller.error(new Error("the client closed the connection mid-body"));
        } catch {
          // already cancelled by the reader
        }
      });
      req.pause();
    },
    pull() {
      req.resume();
    },
    cancel() {
      finished = true;
      req.pause();
    },
  });
  return new Request(url, { method, headers, body, duplex: "half", signal } as RequestInit);
}

/** node:http's listen errors as the Deno errors Deno.serve throws (startup_failure.ts reads them). */
function asDenoError(error: unknown, options: ServeOptions): unknown {
  const code = (error as { code?: string }).code;
  const where = `${options.hostname}:${options.port}`;
  switch (code) {
    case "EADDRINUSE":
      return new Deno.errors.AddrInUse(`Address already in use: ${where}`);
    case "EADDRNOTAVAIL":
    case "EINVAL":
      return new Deno.errors.AddrNotAvailable(`Cannot assign requested address: ${where}`);
    case "EACCES":
    case "EPERM":
      return new Deno.errors.PermissionDenied(`Permission denied: ${where}`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return new Error(`failed to lookup address information: ${options.hostname}`);
    default:
      return error;
  }
}
