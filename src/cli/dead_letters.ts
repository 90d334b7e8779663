/**
 * `cordwoot dead-letters list|retry|drop`: what failed for good, for operators.
 *
 * Dead letters keep the item (with its text) for DEAD_LETTER_DAYS, then expire.
 * `retry` puts an item back in its mailbox at its old place and marks the
 * mailbox pending: a running bridge picks it up at its next sweep (within a
 * minute), a stopped one at start-up. Each move is one atomic commit, checked
 * against the dead letter, so two operators cannot retry the same item twice.
 */
import { type DeadItem, isKept, type MailboxEntry } from "../jobs/mailbox.ts";
import {
  type Direction,
  type ItemPosition,
  keys,
  ownerOfKey,
  positionOfKey,
} from "../store/keys.ts";

export const DEAD_LETTERS_USAGE = `Usage: cordwoot dead-letters <list|retry|drop> [options]

  list                 show dead letters (oldest first): direction, user, id, age, kind, reason
  retry                put the selected items back in their mailboxes (delivered within a minute)
  drop                 delete the selected items

Options:
  --user <discord id>  only this user's items
  --direction <in|out> in: to Chatwoot (DMs), out: to Discord (replies, notices)
  --id <id>            only this item (as shown by list)
  --all                with retry or drop: every item (required when no filter is given)
  --json               list as JSON lines, with the stored item

Exit codes: 0 done, 1 nothing matched for retry/drop, 2 bad arguments.`;

export interface DeadLetterFilter {
  user?: string;
  direction?: Direction;
  id?: string;
}

export type DeadLettersCommand =
  | { action: "list"; filter: DeadLetterFilter; json: boolean }
  | { action: "retry" | "drop"; filter: DeadLetterFilter };

/** Parses the arguments after `dead-letters`; a string is the problem to print. */
export function parseDeadLettersArgs(args: string[]): DeadLettersCommand | string {
  const [action, ...rest] = args;
  if (action !== "list" && action !== "retry" && action !== "drop") {
    return `expected list, retry or drop${action ? `, not "${action}"` : ""}`;
  }
  const filter: DeadLetterFilter = {};
  let all = false;
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = rest[i + 1];
    if (flag === "--all") all = true;
    else if (flag === "--json") json = true;
    else if (flag === "--user" || flag === "--direction" || flag === "--id") {
      if (value === undefined || value.startsWith("--")) return `${flag} needs a value`;
      i++;
      if (flag === "--user") {
        if (!/^\d{17,20}$/.test(value)) return `--user expects a Discord user id, not "${value}"`;
        filter.user = value;
      } else if (flag === "--direction") {
        if (value !== "in" && value !== "out") return `--direction expects in or out`;
        filter.direction = value;
      } else {
        if (!/^\d+(\/\d+)*$/.test(value)) return `--id expects an id as shown by list`;
        filter.id = value;
      }
    } else return `unknown option "${flag}"`;
  }
  if (action === "list") return { action, filter, json };
  if (!all && !filter.user && !filter.direction && !filter.id) {
    return `${action} needs --user, --direction, --id or --all`;
  }
  return { action, filter };
}

export interface DeadLetter {
  dir: Direction;
  userId: string;
  position: ItemPosition;
  /** The position as `list` shows it and `--id` takes it: `seq` or `seq/n`. */
  id: string;
  dead: DeadItem;
}

export async function* listDeadLetters(
  kv: Deno.Kv,
  filter: DeadLetterFilter,
  now: number = Date.now(),
): AsyncGenerator<DeadLetter> {
  const prefix = filter.user && filter.direction
    ? keys.deadLetters(filter.direction, filter.user)
    : filter.direction
    ? keys.deadLettersIn(filter.direction)
    : keys.allDead();
  for await (const entry of kv.list<DeadItem>({ prefix })) {
    const { dir, userId } = ownerOfKey(entry.key);
    const position = positionOfKey(entry.key);
    const id = position.join("/");
    if (filter.user && userId !== filter.user) continue;
    if (filter.id && id !== filter.id) continue;
    if (!isKept(entry.value, now)) continue;
    yield { dir, userId, position, id, dead: entry.value };
  }
}

/** Puts a dead letter back in its mailbox; false when it was already moved or dropped. */
async function retryDeadLetter(kv: Deno.Kv, letter: DeadLetter): Promise<boolean> {
  const deadKey = keys.deadItem(letter.dir, letter.userId, letter.position);
  const current = await kv.get<DeadItem>(deadKey);
  if (current.versionstamp === null) return false;
  const now = Date.now();
  // Back where it was, with what it had done: the handler looks before repeating anything.
  const entry: MailboxEntry = {
    item: current.value.item,
    progress: current.value.progress ?? {},
    appendedAt: now,
    triedBefore: true,
  };
  const res = await kv.atomic().check(current)
    .delete(deadKey)
    .set(keys.mailboxItem(letter.dir, letter.userId, letter.position), entry)
    .set(keys.pending(letter.dir, letter.userId), { touchedAt: now })
    .commit();
  return res.ok;
}

async function dropDeadLetter(kv: Deno.Kv, letter: DeadLetter): Promise<boolean> {
  const deadKey = keys.deadItem(letter.dir, letter.userId, letter.position);
  const current = await kv.get(deadKey);
  if (current.versionstamp === null) return false;
  return (await kv.atomic().check(current).delete(deadKey).commit()).ok;
}

/** Runs the command against an open KV; returns the exit code. */
export async function runDeadLetters(
  kv: Deno.Kv,
  command: DeadLettersCommand,
  print: (line: string) => void = console.log,
  now: () => number = Date.now,
): Promise<number> {
  let matched = 0;
  for await (const letter of listDeadLetters(kv, command.filter, now())) {
    matched++;
    if (command.action === "list") {
      print(command.json ? JSON.stringify(asJson(letter)) : describe(letter, now()));
      continue;
    }
    const done = command.action === "retry"
      ? await retryDeadLetter(kv, letter)
      : await dropDeadLetter(kv, letter);
    print(
      `${done ? (command.action === "retry" ? "requeued" : "dropped") : "skipped (changed)"} ${
        describe(letter, now())
      }`,
    );
  }
  if (command.action === "list") {
    if (!command.json) print(`${matched} dead letter(s)`);
    return 0;
  }
  if (matched === 0) {
    print("no dead letter matched");
    return 1;
  }
  if (command.action === "retry") {
    print("A running bridge delivers requeued items within a minute (at its next sweep).");
  }
  return 0;
}

function kindOf(item: unknown): string {
  const kind = typeof item === "object" && item !== null && "kind" in item ? item.kind : undefined;
  return typeof kind === "string" ? kind : "item";
}

function describe(letter: DeadLetter, now: number): string {
  const ageHours = ((now - letter.dead.failedAt) / 3_600_000).toFixed(1);
  return [
    letter.dir === "in" ? "in (to Chatwoot)" : "out (to Discord)",
    `user ${letter.userId}`,
    `id ${letter.id}`,
    `failed ${new Date(letter.dead.failedAt).toISOString()} (${ageHours} h ago)`,
    kindOf(letter.dead.item),
    letter.dead.reason,
  ].join("  ");
}

function asJson(letter: DeadLetter) {
  return {
    direction: letter.dir,
    userId: letter.userId,
    id: letter.id,
    failedAt: new Date(letter.dead.failedAt).toISOString(),
    reason: letter.dead.reason,
    item: letter.dead.item,
  };
}
