/**
 * Start-up failures an operator has to fix. Each is one line, "<problem>:
 * <fix>", naming the variable; the command line prints it and exits 1, so that
 * systemd's `Restart=on-failure` acts (a busy port may be free a moment later).
 * Messages never contain secret values.
 */
export class StartupFailure extends Error {
  override name = "StartupFailure";
  constructor(readonly problem: string, readonly fix: string) {
    super(`${problem}: ${fix}`);
  }
}

/** The failure for a refused bind of the HTTP server; undefined when `error` is something else. */
export function bindFailure(
  error: unknown,
  host: string,
  port: number,
): StartupFailure | undefined {
  if (error instanceof Deno.errors.AddrInUse) {
    return new StartupFailure(
      `WEBHOOK_PORT ${port} is already in use on ${host}`,
      "stop the other process or choose another port",
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new StartupFailure(
      `WEBHOOK_HOST ${host} is not an address of this machine`,
      "use 0.0.0.0 (every interface), 127.0.0.1 or one of its addresses",
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new StartupFailure(
      `WEBHOOK_PORT ${port} on ${host} needs privileges this process lacks (ports below 1024 do)`,
      "choose a port from 1024 up and put a reverse proxy in front",
    );
  }
  if (error instanceof Deno.errors.NotCapable) {
    return new StartupFailure(
      `WEBHOOK_PORT ${port} on ${host} is not allowed by this process's --allow-net`,
      "grant --allow-net or choose an allowed port",
    );
  }
  if (error instanceof Error && /failed to lookup address/i.test(error.message)) {
    return new StartupFailure(
      `WEBHOOK_HOST ${host} is not a known host name`,
      "use an address such as 0.0.0.0 or 127.0.0.1",
    );
  }
  return undefined;
}

/** An OS or Deno error message without its noise: the OS's own words, no "(os error N)". */
export function shortCause(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split("\n")[0];
  const parts = firstLine.split(/: (?=[A-Za-z])/).filter((p) => p.trim() !== "");
  // "…: tcp connect error: Connection refused (os error 111)" → "Connection refused".
  const cause = parts.find((p) => /\(os error \d+\)/.test(p)) ?? parts.at(-1) ?? firstLine;
  return cause.replace(/\s*\(os error \d+\)/g, "").trim().slice(0, 200);
}
