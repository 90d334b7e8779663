/**
 * Structured logging: one JSON object per line (or a readable line with
 * LOG_FORMAT=pretty, the default when standard error is a terminal). Fields carry the ids needed to follow a message across
 * both sides; callers never pass message text or secrets at info level.
 */
import type { LogFields, Logger } from "./bridge/ports.ts";
import type { LogFormat, LogLevel } from "./config.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level: LogLevel;
  /** Unset: pretty when lines go to a terminal (`isTerminal`), JSON otherwise (files, journald). */
  format?: LogFormat;
  /** Whether standard error is a terminal; asked only when `format` is unset and `write` is not given. */
  isTerminal?: () => boolean;
  /** Where lines go; stderr by default so stdout stays free for command output. */
  write?: (line: string) => void;
  /** Values that must never be printed, replaced by `[redacted]` wherever they appear. */
  secrets?: string[];
}

export function createLogger(options: LoggerOptions, base: LogFields = {}): Logger {
  const write = options.write ?? ((line: string) => console.error(line));
  const format = options.format ??
    (!options.write && (options.isTerminal ?? (() => Deno.stderr.isTerminal()))()
      ? "pretty"
      : "json");
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const redact = (text: string) => secrets.reduce((t, s) => t.split(s).join("[redacted]"), text);

  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < RANK[options.level]) return;
    const record = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    const line = format === "json"
      ? JSON.stringify(record, jsonSafe)
      : `${record.time} ${level.toUpperCase().padEnd(5)} ${msg}${
        formatPretty({ ...base, ...fields })
      }`;
    write(redact(line));
  };

  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger({ ...options, format }, { ...base, ...fields }),
  };
}

function jsonSafe(_key: string, value: unknown) {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

function formatPretty(fields: LogFields): string {
  const parts = Object.entries(fields).map(([k, v]) =>
    `${k}=${typeof v === "string" ? v : JSON.stringify(v, jsonSafe)}`
  );
  return parts.length ? ` ${parts.join(" ")}` : "";
}

/** A logger that drops everything: for unit tests of code that logs. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
