/**
 * check-config's checks of this machine: the webhook port can be bound, and
 * the KV database opens as the bridge would open it.
 *
 * Contract: the port is released at once; opening KV gives up after
 * `timeoutMs` (a late connection is closed when it comes); a KV Connect URL
 * is shown without its query, and the access token never.
 */
import type { Config } from "../config.ts";
import { bindFailure, shortCause, StartupFailure } from "../startup_failure.ts";
import { isKvConnectUrl, openKv } from "../store/open_kv.ts";
import { type Check, duration } from "./check_answer.ts";

/** WEBHOOK_PORT can be bound on WEBHOOK_HOST right now (it is released at once). */
export function checkPort(config: Config): Check {
  const label = "Webhook port";
  try {
    const listener = Deno.listen({ hostname: config.webhookHost, port: config.webhookPort });
    listener.close();
    return { ok: true, label, detail: `${config.webhookHost}:${config.webhookPort} is free` };
  } catch (error) {
    const failure = bindFailure(error, config.webhookHost, config.webhookPort);
    return {
      ok: false,
      label,
      detail: failure?.problem ??
        `WEBHOOK_PORT ${config.webhookPort} cannot be bound on ${config.webhookHost} (${
          shortCause(error)
        })`,
      fix: failure?.fix === "stop the other process or choose another port"
        ? "stop the other process (an already running cordwoot counts) or choose another port"
        : failure?.fix ?? "choose another WEBHOOK_PORT or WEBHOOK_HOST",
    };
  }
}

/** KV_PATH opens as the bridge would open it (the folder of a file path is created). */
export async function checkKv(config: Config, timeoutMs: number): Promise<Check> {
  const label = "KV database";
  if (config.kvPath === ":memory:") {
    return { ok: true, label, detail: ":memory: (nothing is kept across restarts)" };
  }
  if (config.kvPath === "") {
    return { ok: true, label, detail: "the platform's own database (Deno Deploy)" };
  }
  const shown = isKvConnectUrl(config.kvPath)
    ? `${new URL(config.kvPath).origin}${new URL(config.kvPath).pathname}`
    : config.kvPath;
  const opening = openKv(config.kvPath, config.kvAccessToken);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const kv = await Promise.race([opening, timedOut]);
    if (kv === "timeout") {
      opening.then((late) => late.close(), () => {});
      return {
        ok: false,
        label,
        detail: `KV_PATH ${shown}: no answer within ${duration(timeoutMs)}`,
        fix: "check the URL and that this machine can reach it",
      };
    }
    kv.close();
    return { ok: true, label, detail: `${shown} opens` };
  } catch (error) {
    if (error instanceof StartupFailure) {
      return { ok: false, label, detail: error.problem, fix: error.fix };
    }
    return { ok: false, label, detail: `KV_PATH ${shown} cannot be opened (${shortCause(error)})` };
  } finally {
    clearTimeout(timer);
  }
}
