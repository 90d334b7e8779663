/**
 * Opens the bridge's Deno KV from KV_PATH: a file (its folder is created),
 * `:memory:`, a KV Connect URL (`http(s)://…`, which needs
 * DENO_KV_ACCESS_TOKEN), or "" for the platform's own database (Deno Deploy).
 * Every failure is a StartupFailure naming the variable and the fix.
 */
import { dirname } from "node:path";
import { shortCause, StartupFailure } from "../startup_failure.ts";

export function isKvConnectUrl(path: string): boolean {
  return /^https?:\/\//i.test(path);
}

/**
 * `accessToken` defaults to the process environment's DENO_KV_ACCESS_TOKEN.
 * Deno.openKv reads the token only from the process environment, so a token
 * given here (e.g. from `.env`) is put there before opening.
 */
export async function openKv(
  path: string,
  accessToken: string | undefined = Deno.env.get("DENO_KV_ACCESS_TOKEN"),
): Promise<Deno.Kv> {
  if (path === "") {
    try {
      return await Deno.openKv();
    } catch (error) {
      throw new StartupFailure(
        `KV_PATH is empty but the platform's default database cannot be opened (${
          shortCause(error)
        })`,
        "set KV_PATH, e.g. ./data/cordwoot.kv",
      );
    }
  }
  if (isKvConnectUrl(path)) return await openRemote(path, accessToken);
  if (path !== ":memory:") {
    try {
      await Deno.mkdir(dirname(path), { recursive: true });
    } catch (error) {
      throw localFailure(path, error);
    }
  }
  try {
    return await Deno.openKv(path);
  } catch (error) {
    throw localFailure(path, error);
  }
}

function localFailure(path: string, error: unknown): StartupFailure {
  const folder = dirname(path);
  // mkdir: "Not a directory" below a file, "File exists" when the folder itself is a file.
  if (error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.AlreadyExists) {
    return new StartupFailure(
      `KV_PATH ${path} cannot be created: part of ${folder} is a file, not a folder`,
      "point KV_PATH at a file in a folder, e.g. ./data/cordwoot.kv",
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new StartupFailure(
      `KV_PATH ${path} cannot be written: no permission for ${folder}`,
      "give this user write access to it or choose another KV_PATH",
    );
  }
  if (error instanceof Deno.errors.NotCapable) {
    return new StartupFailure(
      `KV_PATH ${path} is outside what this process may write (the compiled binary: data/ in its working directory)`,
      "keep KV_PATH inside data/ or grant --allow-write for it",
    );
  }
  return new StartupFailure(
    `KV_PATH ${path} cannot be opened (${shortCause(error)})`,
    "point it at a database file this user can write, e.g. ./data/cordwoot.kv",
  );
}

async function openRemote(path: string, accessToken: string | undefined): Promise<Deno.Kv> {
  const url = new URL(path);
  const shown = `${url.origin}${url.pathname}`; // never credentials or a query
  if (!accessToken) {
    throw new StartupFailure(
      `KV_PATH is a KV Connect URL (${shown}) but DENO_KV_ACCESS_TOKEN is not set`,
      "put the database's access token in DENO_KV_ACCESS_TOKEN (in .env or the environment)",
    );
  }
  if (Deno.env.get("DENO_KV_ACCESS_TOKEN") !== accessToken) {
    Deno.env.set("DENO_KV_ACCESS_TOKEN", accessToken);
  }
  try {
    return await Deno.openKv(path);
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error))
      .split(accessToken).join("[redacted]");
    const status = /responded with status (\d{3})/.exec(message);
    if (status && (status[1] === "401" || status[1] === "403")) {
      throw new StartupFailure(
        `the KV Connect server at KV_PATH ${shown} refused DENO_KV_ACCESS_TOKEN (HTTP ${
          status[1]
        })`,
        "copy the database's current access token into DENO_KV_ACCESS_TOKEN",
      );
    }
    throw status
      ? new StartupFailure(
        `the KV Connect server at KV_PATH ${shown} answered HTTP ${status[1]}`,
        "check that KV_PATH is the database's KV Connect URL",
      )
      : new StartupFailure(
        `KV_PATH ${shown} cannot be reached (${shortCause(message)})`,
        "check the URL and that this machine can reach it",
      );
  }
}
