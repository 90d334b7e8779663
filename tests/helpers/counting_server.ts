/**
 * A server off the bridge's allowed origins (an internal service, a storage
 * host not configured), and bodies that count what the bridge pulled.
 */

/** An HTTP server on 127.0.0.1 that records every request it gets. */
export class CountingServer {
  readonly requests: string[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(respond: (url: URL) => Response = () => new Response("TOPSECRET-internal-data")) {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const url = new URL(req.url);
      this.requests.push(url.pathname);
      return respond(url);
    });
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * A response body of `total` bytes, produced only as the client reads it;
 * `written.bytes` is how many the server handed to the connection.
 */
export function countedBody(
  total: number,
  written: { bytes: number },
  options: { contentLength?: boolean; contentType?: string } = {},
): Response {
  const chunk = new Uint8Array(64 * 1024).fill(0x41);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const n = Math.min(chunk.byteLength, total - written.bytes);
      if (n <= 0) return controller.close();
      written.bytes += n;
      controller.enqueue(chunk.slice(0, n));
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: {
      "content-type": options.contentType ?? "application/octet-stream",
      ...(options.contentLength ? { "content-length": String(total) } : {}),
    },
  });
}
