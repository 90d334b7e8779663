import assert from "node:assert/strict";
import {
  isOpenAt,
  nextOpening,
  usableTimeZone,
  type WorkingDay,
  type WorkingSchedule,
} from "../src/bridge/working_hours.ts";

const day = (
  dayOfWeek: number,
  hours: [number, number, number, number] | "closed" | "all day",
): WorkingDay => ({
  dayOfWeek,
  closedAllDay: hours === "closed",
  openAllDay: hours === "all day",
  openHour: Array.isArray(hours) ? hours[0] : null,
  openMinutes: Array.isArray(hours) ? hours[1] : null,
  closeHour: Array.isArray(hours) ? hours[2] : null,
  closeMinutes: Array.isArray(hours) ? hours[3] : null,
});

/** Chatwoot's default: Monday–Friday 9:00–17:00, weekend closed. */
const weekdays = (timeZone: string): WorkingSchedule => ({
  enabled: true,
  timeZone,
  days: [0, 1, 2, 3, 4, 5, 6].map((d) => day(d, d === 0 || d === 6 ? "closed" : [9, 0, 17, 0])),
});

const at = (iso: string) => Date.parse(iso);

const openCases: { name: string; schedule: WorkingSchedule; at: string; open: boolean }[] = [
  { name: "UTC Monday 10:00", schedule: weekdays("UTC"), at: "2026-11-23T10:00:00Z", open: true },
  {
    name: "UTC Monday 08:59:59",
    schedule: weekdays("UTC"),
    at: "2026-11-23T08:59:59Z",
    open: false,
  },
  {
    name: "UTC Monday 09:00:00",
    schedule: weekdays("UTC"),
    at: "2026-11-23T09:00:00Z",
    open: true,
  },
  {
    name: "close minute itself is open (Chatwoot between?)",
    schedule: weekdays("UTC"),
    at: "2026-11-23T17:00:00Z",
    open: true,
  },
  {
    name: "one second after close",
    schedule: weekdays("UTC"),
    at: "2026-11-23T17:00:01Z",
    open: false,
  },
  { name: "UTC Saturday noon", schedule: weekdays("UTC"), at: "2026-11-21T12:00:00Z", open: false },
  {
    name: "Berlin Monday 09:30 local = 08:30Z (winter)",
    schedule: weekdays("Europe/Berlin"),
    at: "2026-11-23T08:30:00Z",
    open: true,
  },
  {
    name: "Berlin Monday 08:30 local = 07:30Z",
    schedule: weekdays("Europe/Berlin"),
    at: "2026-11-23T07:30:00Z",
    open: false,
  },
  {
    name: "New York Friday 16:30 local is Friday 21:30Z",
    schedule: weekdays("America/New_York"),
    at: "2026-11-20T21:30:00Z",
    open: true,
  },
  {
    name: "New York Friday 17:30 local, already Saturday in UTC",
    schedule: weekdays("America/New_York"),
    at: "2026-11-21T01:30:00Z",
    open: false,
  },
  {
    name: "Kolkata (+05:30) Monday 09:00 local = 03:30Z",
    schedule: weekdays("Asia/Kolkata"),
    at: "2026-11-23T03:30:00Z",
    open: true,
  },
  {
    name: "Auckland Monday 09:00 local is Sunday 20:00Z",
    schedule: weekdays("Pacific/Auckland"),
    at: "2026-11-22T20:00:00Z",
    open: true,
  },
  {
    name: "disabled working hours are always open",
    schedule: { ...weekdays("UTC"), enabled: false },
    at: "2026-11-21T03:00:00Z",
    open: true,
  },
  {
    name: "open_all_day is open at 23:59:00",
    schedule: { enabled: true, timeZone: "UTC", days: [day(6, "all day")] },
    at: "2026-11-21T23:59:00Z",
    open: true,
  },
  {
    name: "open_all_day closes at 23:59:01, as in Chatwoot",
    schedule: { enabled: true, timeZone: "UTC", days: [day(6, "all day")] },
    at: "2026-11-21T23:59:01Z",
    open: false,
  },
  {
    name: "minutes count: 09:30–12:15 at 12:15",
    schedule: { enabled: true, timeZone: "UTC", days: [day(1, [9, 30, 12, 15])] },
    at: "2026-11-23T12:15:00Z",
    open: true,
  },
  {
    name: "a close time before the open time never opens",
    schedule: { enabled: true, timeZone: "UTC", days: [day(1, [22, 0, 6, 0])] },
    at: "2026-11-23T23:00:00Z",
    open: false,
  },
  // DST: New York springs forward on 2026-03-08 (EST −5 → EDT −4).
  {
    name: "New York Monday after spring-forward 09:00 EDT = 13:00Z",
    schedule: weekdays("America/New_York"),
    at: "2026-03-09T13:00:00Z",
    open: true,
  },
  {
    name: "New York Friday before it 09:00 EST = 14:00Z",
    schedule: weekdays("America/New_York"),
    at: "2026-03-06T13:59:00Z",
    open: false,
  },
  {
    name: "an unknown zone is read as UTC",
    schedule: weekdays("Mars/Olympus_Mons"),
    at: "2026-11-23T10:00:00Z",
    open: true,
  },
];

for (const c of openCases) {
  Deno.test(`isOpenAt: ${c.name}`, () => {
    assert.equal(isOpenAt(c.schedule, at(c.at)), c.open);
  });
}

const nextCases: {
  name: string;
  schedule: WorkingSchedule;
  at: string;
  next: string | undefined;
}[] = [
  {
    name: "Saturday → Monday 09:00 UTC",
    schedule: weekdays("UTC"),
    at: "2026-11-21T12:00:00Z",
    next: "2026-11-23T09:00:00Z",
  },
  {
    name: "Monday early → same day",
    schedule: weekdays("UTC"),
    at: "2026-11-23T06:00:00Z",
    next: "2026-11-23T09:00:00Z",
  },
  {
    name: "Monday evening → Tuesday",
    schedule: weekdays("UTC"),
    at: "2026-11-23T18:00:00Z",
    next: "2026-11-24T09:00:00Z",
  },
  {
    name: "Berlin weekend → Monday 08:00Z",
    schedule: weekdays("Europe/Berlin"),
    at: "2026-11-21T12:00:00Z",
    next: "2026-11-23T08:00:00Z",
  },
  {
    name: "only Mondays, asked Monday after close → a week ahead",
    schedule: { enabled: true, timeZone: "UTC", days: [day(1, [9, 0, 17, 0])] },
    at: "2026-11-23T18:00:00Z",
    next: "2026-11-30T09:00:00Z",
  },
  {
    name: "never open → none",
    schedule: {
      enabled: true,
      timeZone: "UTC",
      days: [0, 1, 2, 3, 4, 5, 6].map((d) => day(d, "closed")),
    },
    at: "2026-11-23T18:00:00Z",
    next: undefined,
  },
  // DST: Berlin falls back on 2026-10-25 (CEST +2 → CET +1). Saturday before → Monday 09:00 CET = 08:00Z.
  {
    name: "across Berlin's fall-back",
    schedule: weekdays("Europe/Berlin"),
    at: "2026-10-24T12:00:00Z",
    next: "2026-10-26T08:00:00Z",
  },
  // New York springs forward 2026-03-08: Saturday 7th → Monday 9th 09:00 EDT = 13:00Z.
  {
    name: "across New York's spring-forward",
    schedule: weekdays("America/New_York"),
    at: "2026-03-07T15:00:00Z",
    next: "2026-03-09T13:00:00Z",
  },
  {
    name: "Kolkata half-hour offset",
    schedule: weekdays("Asia/Kolkata"),
    at: "2026-11-21T12:00:00Z",
    next: "2026-11-23T03:30:00Z",
  },
];

for (const c of nextCases) {
  Deno.test(`nextOpening: ${c.name}`, () => {
    const next = nextOpening(c.schedule, at(c.at));
    assert.equal(
      next === undefined ? undefined : new Date(next).toISOString(),
      c.next && new Date(c.next).toISOString(),
    );
  });
}

Deno.test("usableTimeZone reports an unknown zone", () => {
  assert.deepEqual(usableTimeZone("Europe/Paris"), { zone: "Europe/Paris", valid: true });
  assert.deepEqual(usableTimeZone("Not/AZone"), { zone: "UTC", valid: false });
});
