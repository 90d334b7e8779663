/**
 * Working hours with Chatwoot's own semantics (app/models/working_hour.rb):
 *
 * - `day_of_week` 0 = Sunday … 6 = Saturday, in the inbox's IANA time zone;
 * - `closed_all_day` → closed; `open_all_day` → open 00:00 to 23:59;
 * - otherwise open from open_hour:open_minutes to close_hour:close_minutes,
 *   both ends included at whole minutes (Chatwoot builds both times with
 *   seconds = 0 and tests `between?`), so 17:00:00 is open and 17:00:01 is
 *   not; a close time before the open time is never open, as in Chatwoot;
 * - with working hours disabled the inbox is always open.
 *
 * An unknown time zone falls back to UTC; the caller logs the warning.
 */

export interface WorkingDay {
  dayOfWeek: number;
  closedAllDay: boolean;
  openAllDay: boolean;
  openHour: number | null;
  openMinutes: number | null;
  closeHour: number | null;
  closeMinutes: number | null;
}

export interface WorkingSchedule {
  enabled: boolean;
  timeZone: string;
  days: WorkingDay[];
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  weekday: number;
  secondOfDay: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The zone to compute in: the inbox's, or UTC when Intl does not know it. */
export function usableTimeZone(timeZone: string): { zone: string; valid: boolean } {
  try {
    formatterFor(timeZone);
    return { zone: timeZone, valid: true };
  } catch {
    return { zone: "UTC", valid: false };
  }
}

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
    });
    formatters.set(zone, f);
  }
  return f;
}

function localTime(zone: string, at: number): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatterFor(zone).formatToParts(new Date(at))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: WEEKDAYS.indexOf(parts.weekday),
    secondOfDay: Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second),
  };
}

/** Opening and closing second of the day, or undefined when the day is closed. */
function openWindow(day: WorkingDay | undefined): { open: number; close: number } | undefined {
  if (!day || day.closedAllDay) return undefined;
  if (day.openAllDay) return { open: 0, close: 23 * 3600 + 59 * 60 };
  if (day.openHour === null || day.closeHour === null) return undefined;
  const open = day.openHour * 3600 + (day.openMinutes ?? 0) * 60;
  const close = day.closeHour * 3600 + (day.closeMinutes ?? 0) * 60;
  return close >= open ? { open, close } : undefined;
}

export function isOpenAt(schedule: WorkingSchedule, at: number): boolean {
  if (!schedule.enabled) return true;
  const zone = usableTimeZone(schedule.timeZone).zone;
  const now = localTime(zone, at);
  const window = openWindow(schedule.days.find((d) => d.dayOfWeek === now.weekday));
  return window !== undefined && now.secondOfDay >= window.open &&
    now.secondOfDay <= window.close;
}

/**
 * The next moment the inbox opens after `at` (epoch ms), looking up to a week
 * and a day ahead; undefined when no day of the week ever opens.
 */
export function nextOpening(schedule: WorkingSchedule, at: number): number | undefined {
  if (!schedule.enabled) return at;
  const zone = usableTimeZone(schedule.timeZone).zone;
  const now = localTime(zone, at);
  for (let offset = 0; offset <= 8; offset++) {
    const date = new Date(Date.UTC(now.year, now.month - 1, now.day + offset));
    const window = openWindow(schedule.days.find((d) => d.dayOfWeek === date.getUTCDay()));
    if (!window) continue;
    const opening = zonedToEpoch(zone, {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
      secondOfDay: window.open,
    });
    if (opening > at) return opening;
  }
  return undefined;
}

/** Local wall-clock time in a zone → epoch ms (a time skipped by DST moves forward by the gap). */
function zonedToEpoch(
  zone: string,
  t: { year: number; month: number; day: number; secondOfDay: number },
): number {
  const wall = Date.UTC(t.year, t.month - 1, t.day) + t.secondOfDay * 1000;
  const first = wall - offsetMs(zone, wall);
  const second = wall - offsetMs(zone, first);
  return second;
}

/** How far the zone's wall clock is ahead of UTC at an instant. */
function offsetMs(zone: string, at: number): number {
  const l = localTime(zone, at);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day) + l.secondOfDay * 1000;
  return asUtc - Math.floor(at / 1000) * 1000;
}

/** Discord renders this as a local date and a relative time in each reader's own zone. */
export function discordTimestamp(epochMs: number): string {
  const seconds = Math.floor(epochMs / 1000);
  return `<t:${seconds}:F> (<t:${seconds}:R>)`;
}
