/**
 * Group commits: atomic writes that arrive while another is being committed
 * are committed together, in one KV atomic operation, so that the database's
 * single writer pays one fsync for many mailboxes at once.
 *
 * Contract:
 * - `commit(write)` resolves with the result `write` alone would have had. A
 *   group goes through whole or not at all (KV atomics are all-or-nothing);
 *   when a group fails because one of its checks failed, each write is
 *   committed again on its own, so that only the writes whose own checks fail
 *   report it. Nothing is written twice: a failed group wrote nothing.
 * - Nothing waits to be grouped: a write goes at once when no commit is in
 *   flight, so a lone DM pays no latency; under load the writes that queue
 *   behind a commit form the next group.
 * - A group stays within KV's limits (100 checks, 1,000 mutations, 800 KB of
 *   mutations and 80 KB of keys per atomic operation) with room to spare; a
 *   write KV refuses (a value too large) fails alone, as it would on its own.
 * - Two writes that touch a common key never share a group: an atomic
 *   operation evaluates every check before any mutation, so an append (which
 *   rewrites a mailbox's pending marker) grouped with that mailbox's closing
 *   commit (which checks and deletes the marker) would let the marker be
 *   deleted over a new item. A write that touches a key of the group (or of a
 *   write left for later) waits for a later group, so writes to one key keep
 *   their order.
 */
import { withStorageRetries } from "./storage_retries.ts";

/** One write: its checks and mutations added to a shared atomic operation. */
export interface GroupedWrite {
  add(op: Deno.AtomicOperation): void;
  checks: number;
  mutations: number;
  /** Roughly how many bytes its values take (JSON length is close enough). */
  bytes: number;
  /** Every key it checks or writes, as text. */
  keys: string[];
  /** Roughly how many bytes its keys take. */
  keyBytes: number;
}

type Result = Deno.KvCommitResult | Deno.KvCommitError;

const MAX_CHECKS = 90;
const MAX_MUTATIONS = 900;
const MAX_BYTES = 600_000;
const MAX_KEY_BYTES = 60_000;

interface Waiting {
  write: GroupedWrite;
  done: PromiseWithResolvers<Result>;
}

export class GroupCommit {
  readonly #kv: Deno.Kv;
  #queue: Waiting[] = [];
  #running = false;
  /** Groups committed, and writes in them (for tests and the bench). */
  readonly counts = { groups: 0, writes: 0 };

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  commit(write: GroupedWrite): Promise<Result> {
    const done = Promise.withResolvers<Result>();
    this.#queue.push({ write, done });
    if (!this.#running) void this.#run();
    return done.promise;
  }

  async #run() {
    this.#running = true;
    try {
      while (this.#queue.length) {
        const group = this.#takeGroup();
        await this.#commitGroup(group);
      }
    } finally {
      this.#running = false;
    }
  }

  #takeGroup(): Waiting[] {
    const group: Waiting[] = [];
    const later: Waiting[] = [];
    let checks = 0;
    let mutations = 0;
    let bytes = 0;
    let keyBytes = 0;
    /** Keys of the writes in the group, and of the writes left for later (they keep their turn). */
    const taken = new Set<string>();
    const waiting = new Set<string>();
    for (const next of this.#queue) {
      const { write } = next;
      const full = checks + write.checks > MAX_CHECKS ||
        mutations + write.mutations > MAX_MUTATIONS || bytes + write.bytes > MAX_BYTES ||
        keyBytes + write.keyBytes > MAX_KEY_BYTES;
      const collides = write.keys.some((key) => taken.has(key) || waiting.has(key));
      if (group.length && (full || collides)) {
        later.push(next);
        for (const key of write.keys) waiting.add(key);
        continue;
      }
      group.push(next);
      for (const key of write.keys) taken.add(key);
      checks += write.checks;
      mutations += write.mutations;
      bytes += write.bytes;
      keyBytes += write.keyBytes;
    }
    this.#queue = later;
    return group;
  }

  async #commitGroup(group: Waiting[]) {
    let result: Result;
    try {
      result = await withStorageRetries(() => {
        const op = this.#kv.atomic();
        for (const { write } of group) write.add(op);
        return op.commit();
      });
    } catch (error) {
      // One write KV refuses (a value too large, say) must not fail the others: split, as below.
      if (group.length > 1) return await this.#commitHalves(group);
      group[0].done.reject(error);
      return;
    }
    this.counts.groups++;
    this.counts.writes += group.length;
    if (result.ok || group.length === 1) {
      for (const { done } of group) done.resolve(result);
      return;
    }
    await this.#commitHalves(group);
  }

  /**
   * A check of some write failed the group (or KV refused one): each half is tried again as a
   * group, and so on down to the failing writes (a few commits for one bad write, not one each).
   */
  async #commitHalves(group: Waiting[]) {
    const half = Math.ceil(group.length / 2);
    await this.#commitGroup(group.slice(0, half));
    await this.#commitGroup(group.slice(half));
  }
}

/** A KV key as text (each part tagged with its type, so 1n, 1 and "1" differ). */
function keyText(key: Deno.KvKey): string {
  let text = "";
  for (const part of key) {
    text += typeof part === "string"
      ? `s${part}\u0000`
      : typeof part === "bigint"
      ? `b${part}\u0000`
      : `${typeof part}${String(part)}\u0000`;
  }
  return text;
}

/**
 * An upper estimate of a value's stored size, without serializing it: two
 * bytes per string character (V8 stores one or two), sixteen for anything else.
 */
function roughBytes(value: unknown, depth = 0): number {
  if (typeof value === "string") return 2 * value.length + 8;
  if (typeof value !== "object" || value === null) return 16;
  // Deep or binary values: count them big, they get a group of their own sooner.
  if (depth > 8 || value instanceof Uint8Array) return 64_000;
  let size = 16;
  for (const [k, v] of Object.entries(value)) size += 2 * k.length + roughBytes(v, depth + 1);
  return size;
}

/**
 * A write built the usual way (`build(op)` adds checks and mutations): it is
 * recorded once and replayed onto the group's operation.
 */
export function recordedWrite(
  build: (op: Deno.AtomicOperation) => Deno.AtomicOperation | void,
): GroupedWrite {
  const calls: { method: keyof Deno.AtomicOperation; args: unknown[] }[] = [];
  let checks = 0;
  let mutations = 0;
  let bytes = 0;
  let keyBytes = 0;
  const keys: string[] = [];
  const note = (key: string) => {
    keys.push(key);
    keyBytes += key.length;
  };
  const recorder: Deno.AtomicOperation = new Proxy({} as Deno.AtomicOperation, {
    get(_, prop) {
      return (...args: unknown[]) => {
        const method = prop as keyof Deno.AtomicOperation;
        calls.push({ method, args });
        if (method === "check") {
          checks += args.length;
          for (const check of args) note(keyText((check as { key: Deno.KvKey }).key));
        } else if (
          method === "set" || method === "delete" || method === "sum" || method === "min" ||
          method === "max"
        ) {
          mutations++;
          note(keyText(args[0] as Deno.KvKey));
          if (method === "set") bytes += roughBytes(args[1]) + 64;
        } else {
          // enqueue, mutate, commit: not for grouped writes (their keys would not be seen).
          throw new Error(`a grouped write cannot use ${String(prop)}()`);
        }
        return recorder;
      };
    },
  });
  build(recorder);
  return {
    checks,
    mutations,
    // Keys count too: KV caps an atomic's keys at 81,920 bytes and its mutations at 800 KB.
    bytes: bytes + keyBytes,
    keyBytes,
    keys,
    add(op) {
      for (const { method, args } of calls) {
        (op[method] as (...a: unknown[]) => unknown).apply(op, args);
      }
    },
  };
}
