/** Runs main.ts as a real process, the way an operator does. */
const REPO = new URL("../../", import.meta.url);
export const MAIN = new URL("main.ts", REPO).pathname;
export const DENO_JSON = new URL("deno.json", REPO).pathname;
/** `serve` with 3 s leases instead of 15 s, for tests that kill an instance (see the file). */
export const SERVE_SHORT_LEASES = new URL("tests/helpers/serve_short_leases.ts", REPO).pathname;

export interface CordwootProcess {
  child: Deno.ChildProcess;
  /** Resolves with the exit code and everything printed. */
  result: Promise<{ code: number; stdout: string; stderr: string }>;
  /** Resolves once a line containing `text` was printed to stderr. */
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
}

/** A port nothing listens on right now (for a bridge that must keep its port across restarts). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export function spawnCordwoot(
  args: string[],
  options: {
    env: Record<string, string>;
    cwd?: string;
    /** The module to run instead of main.ts (e.g. SERVE_SHORT_LEASES). */
    entry?: string;
  },
): CordwootProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", DENO_JSON, options.entry ?? MAIN, ...args],
    env: { NO_COLOR: "1", ...options.env },
    clearEnv: true,
    cwd: options.cwd ?? Deno.makeTempDirSync(),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let stderr = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  const decoder = new TextDecoder();
  const readErr = (async () => {
    for await (const chunk of child.stderr) {
      stderr += decoder.decode(chunk, { stream: true });
      for (const w of waiters.filter((w) => stderr.includes(w.text))) w.resolve();
    }
  })();
  const readOut = new Response(child.stdout).text();
  const result = (async () => {
    const [status, stdout] = await Promise.all([child.status, readOut, readErr]);
    return { code: status.code, stdout, stderr };
  })();
  return {
    child,
    result,
    waitForLog(text, timeoutMs = 15_000) {
      if (stderr.includes(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no log line with "${text}" within ${timeoutMs} ms:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          text,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}
