import { DateTime, IANAZone } from 'luxon';

/**
 * Trading calendars: when a venue is open, as data. A calendar is a time zone, one session per
 * trading date in local time (opening `openDaysBefore` days before the date it belongs to, so
 * CME's Sunday 17:00 open is Monday's session), the weekdays that are trading dates, holidays
 * (trading dates without a session) and early closes. Local times are turned into UTC with the
 * IANA time-zone database (luxon over Intl), never with fixed offsets, so daylight saving is right.
 */

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface CalendarDefinition {
  readonly name: string;
  readonly description?: string;
  /** IANA zone, e.g. America/Chicago. */
  readonly timeZone: string;
  readonly session: { readonly open: string; readonly openDaysBefore: number; readonly close: string };
  /** Weekdays (of the trading date) that have a session. */
  readonly weekdays: readonly Weekday[];
  /** Trading dates (YYYY-MM-DD, local) without a session, with their name. */
  readonly holidays: Readonly<Record<string, string>>;
  /** Trading dates whose session closes early, at a local time. */
  readonly earlyCloses: Readonly<Record<string, { readonly close: string; readonly name: string }>>;
}

/** One session in UTC: open time is `[openMs, closeMs)`. */
export interface Session {
  /** The trading date it belongs to, as milliseconds of that date's UTC midnight. */
  readonly dayMs: number;
  readonly openMs: number;
  readonly closeMs: number;
}

export type CalendarErrorCode = 'INVALID_CALENDAR';

/** A calendar definition that cannot be used; the message names the calendar and the field. */
export class CalendarError extends Error {
  constructor(
    readonly code: CalendarErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CalendarError';
  }
}

const DAY_MS = 86_400_000;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Milliseconds of the UTC midnight of a `YYYY-MM-DD` date, or NaN if it is not a real date. */
export function dayMsOf(date: string): number {
  const m = DATE.exec(date);
  if (!m) return NaN;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === date ? ms : NaN;
}

function dateOf(dayMs: number): string {
  return new Date(dayMs).toISOString().slice(0, 10);
}

function parseTime(name: string, field: string, text: string): { hour: number; minute: number } {
  const m = TIME.exec(text);
  if (!m)
    throw new CalendarError('INVALID_CALENDAR', `calendar ${name}: ${field} ${JSON.stringify(text)} is not HH:MM`);
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

/** Checks a definition and throws a CalendarError naming the first bad field. */
export function validateCalendar(def: CalendarDefinition): void {
  const bad = (msg: string): never => {
    throw new CalendarError('INVALID_CALENDAR', `calendar ${def.name || '(unnamed)'}: ${msg}`);
  };
  if (!def.name || !/^[A-Za-z0-9._-]+$/.test(def.name)) bad('name must be letters, digits, . _ -');
  if (!IANAZone.isValidZone(def.timeZone)) bad(`time zone ${JSON.stringify(def.timeZone)} is not an IANA zone`);
  parseTime(def.name, 'session.open', def.session.open);
  parseTime(def.name, 'session.close', def.session.close);
  const { openDaysBefore } = def.session;
  if (!Number.isInteger(openDaysBefore) || openDaysBefore < 0 || openDaysBefore > 6)
    bad('session.openDaysBefore must be an integer 0..6');
  if (openDaysBefore === 0 && def.session.open >= def.session.close) bad('session opens after it closes');
  for (const d of def.weekdays)
    if (!WEEKDAYS.includes(d)) bad(`weekday ${JSON.stringify(d)} is not one of ${WEEKDAYS}`);
  for (const date of Object.keys(def.holidays))
    if (Number.isNaN(dayMsOf(date))) bad(`holiday ${date} is not YYYY-MM-DD`);
  for (const [date, early] of Object.entries(def.earlyCloses)) {
    if (Number.isNaN(dayMsOf(date))) bad(`early close ${date} is not YYYY-MM-DD`);
    parseTime(def.name, `early close ${date}`, early.close);
    if (date in def.holidays) bad(`${date} is both a holiday and an early close`);
  }
}

/**
 * A calendar compiled for lookups. Sessions are computed on first use per trading date and kept,
 * so the hot path pays for the time-zone arithmetic once per date, not per bar.
 */
export class TradingCalendar {
  /** Crypto venues, and every venue without a calendar: every instant is open. */
  static readonly ALWAYS_OPEN = new TradingCalendar(null);

  private readonly sessions = new Map<number, Session | null>();
  private readonly weekdays: ReadonlySet<number>;
  private readonly holidays: ReadonlySet<number>;
  private readonly earlyCloses: ReadonlyMap<number, { hour: number; minute: number }>;
  private readonly open = { hour: 0, minute: 0 };
  private readonly close = { hour: 0, minute: 0 };
  private lastHit: Session | null = null;

  private constructor(readonly definition: CalendarDefinition | null) {
    if (!definition) {
      this.weekdays = new Set();
      this.holidays = new Set();
      this.earlyCloses = new Map();
      return;
    }
    validateCalendar(definition);
    this.weekdays = new Set(definition.weekdays.map((d) => WEEKDAYS.indexOf(d)));
    this.holidays = new Set(Object.keys(definition.holidays).map(dayMsOf));
    this.earlyCloses = new Map(
      Object.entries(definition.earlyCloses).map(([date, e]) => [
        dayMsOf(date),
        parseTime(definition.name, `early close ${date}`, e.close),
      ]),
    );
    this.open = parseTime(definition.name, 'session.open', definition.session.open);
    this.close = parseTime(definition.name, 'session.close', definition.session.close);
  }

  static of(definition: CalendarDefinition): TradingCalendar {
    return new TradingCalendar(definition);
  }

  get alwaysOpen(): boolean {
    return this.definition === null;
  }

  get name(): string {
    return this.definition?.name ?? 'ALWAYS-OPEN';
  }

  /** The session of a trading date (its UTC midnight), or null when that date has none. */
  session(dayMs: number): Session | null {
    const def = this.definition;
    if (!def) return { dayMs, openMs: dayMs, closeMs: dayMs + DAY_MS };
    const known = this.sessions.get(dayMs);
    if (known !== undefined) return known;
    let session: Session | null = null;
    const weekday = new Date(dayMs).getUTCDay();
    if (this.weekdays.has(weekday) && !this.holidays.has(dayMs)) {
      const local = (ms: number, t: { hour: number; minute: number }): number => {
        const d = new Date(ms);
        const dt = DateTime.fromObject(
          { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: t.hour, minute: t.minute },
          { zone: def.timeZone },
        );
        return dt.toMillis();
      };
      const openMs = local(dayMs - def.session.openDaysBefore * DAY_MS, this.open);
      const closeMs = local(dayMs, this.earlyCloses.get(dayMs) ?? this.close);
      if (closeMs > openMs) session = { dayMs, openMs, closeMs };
    }
    this.sessions.set(dayMs, session);
    return session;
  }

  /** Whether the date (its UTC midnight) is a trading date. */
  isTradingDay(dayMs: number): boolean {
    return this.session(dayMs) !== null;
  }

  /** Sessions that overlap `[fromMs, toMs)`, in order. */
  sessionsOverlapping(fromMs: number, toMs: number): Session[] {
    if (toMs <= fromMs) return [];
    const out: Session[] = [];
    // A session closes on its trading date, local time; local dates are within a day of UTC ones.
    const first = Math.floor(fromMs / DAY_MS) * DAY_MS - DAY_MS;
    const openDays = this.definition?.session.openDaysBefore ?? 0;
    const last = Math.floor(toMs / DAY_MS) * DAY_MS + (openDays + 1) * DAY_MS;
    for (let day = first; day <= last; day += DAY_MS) {
      const s = this.session(day);
      if (s && s.openMs < toMs && s.closeMs > fromMs) out.push(s);
    }
    return out;
  }

  /**
   * Whether any session overlaps `[fromMs, toMs)`. Called per bar for the closed-time metric, so it
   * allocates nothing and first tries the session that answered last (bars of a flush are close).
   */
  overlapsSession(fromMs: number, toMs: number): boolean {
    if (this.alwaysOpen) return true;
    const last = this.lastHit;
    if (last && last.openMs < toMs && last.closeMs > fromMs) return true;
    const openDays = this.definition?.session.openDaysBefore ?? 0;
    const lastDay = Math.floor(toMs / DAY_MS) * DAY_MS + (openDays + 1) * DAY_MS;
    for (let day = Math.floor(fromMs / DAY_MS) * DAY_MS - DAY_MS; day <= lastDay; day += DAY_MS) {
      const s = this.session(day);
      if (s && s.openMs < toMs && s.closeMs > fromMs) {
        this.lastHit = s;
        return true;
      }
    }
    return false;
  }

  /** The trading dates of the calendar, for display: `YYYY-MM-DD`. */
  static dateOf(dayMs: number): string {
    return dateOf(dayMs);
  }
}
