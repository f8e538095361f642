import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Logger } from '../runtime/log';
import { CalendarDefinition, TradingCalendar, validateCalendar, Weekday } from '../domain/calendar';
import { CalendarBook, SeriesCalendars, VenueCalendarRule } from '../domain/calendar-book';
import { remainingCalendarGaps } from '../domain/calendar-gaps';
import { parseTimeframe } from '../domain/timeframe';
import type { GapStore } from './gap-store';

/** A file in data/calendars/: a calendar and the venues (and symbol patterns) that follow it. */
export interface CalendarFile extends CalendarDefinition {
  readonly venues: ReadonlyArray<{ venue: string; symbolPattern?: string | null }>;
}

export const CALENDAR_DIR = path.resolve(__dirname, '../../data/calendars');

/** Reads and validates calendar files (every `*.json` of a directory, or the given files). */
export function readCalendarFiles(paths: readonly string[] = [CALENDAR_DIR]): CalendarFile[] {
  const files = paths.flatMap((p) =>
    fs.statSync(p).isDirectory()
      ? fs
          .readdirSync(p)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => path.join(p, f))
      : [p],
  );
  return files.map((f) => {
    const def = JSON.parse(fs.readFileSync(f, 'utf8')) as CalendarFile;
    validateCalendar(def);
    return def;
  });
}

/**
 * Writes calendar files into the tables, idempotently: a calendar's weekly session and the
 * dates its file lists are replaced by the file's; dates and venue rows a deployment added
 * itself are kept.
 */
export async function seedCalendars(knex: Knex, files: readonly CalendarFile[]): Promise<void> {
  for (const f of files) {
    await knex('trading_calendars')
      .insert({
        name: f.name,
        description: f.description ?? '',
        time_zone: f.timeZone,
        session_open: f.session.open,
        session_open_days_before: f.session.openDaysBefore,
        session_close: f.session.close,
        weekdays: f.weekdays,
        updated_at: knex.fn.now(),
      })
      .onConflict('name')
      .merge();
    const days = [
      ...Object.entries(f.holidays).map(([day, name]) => ({ day, kind: 'HOLIDAY', close_local: null, name })),
      ...Object.entries(f.earlyCloses).map(([day, e]) => ({
        day,
        kind: 'EARLY_CLOSE',
        close_local: e.close,
        name: e.name,
      })),
    ].map((d) => ({ ...d, calendar: f.name }));
    if (days.length > 0) await knex('trading_calendar_days').insert(days).onConflict(['calendar', 'day']).merge();
    for (const v of f.venues) {
      await knex('venue_calendars')
        .insert({ venue: v.venue, symbol_pattern: v.symbolPattern ?? '', calendar: f.name })
        .onConflict(['venue', 'symbol_pattern'])
        .merge(['calendar']);
    }
  }
}

interface CalendarRow {
  name: string;
  description: string;
  time_zone: string;
  session_open: string;
  session_open_days_before: number;
  session_close: string;
  weekdays: Weekday[];
}
interface DayRow {
  calendar: string;
  day: string;
  kind: 'HOLIDAY' | 'EARLY_CLOSE';
  close_local: string | null;
  name: string;
}

/** Every calendar and venue rule in the tables. */
export async function loadCalendarBook(knex: Knex | Knex.Transaction): Promise<CalendarBook> {
  const [calendars, days, rules] = await Promise.all([
    knex<CalendarRow>('trading_calendars').select('*'),
    knex.raw<{ rows: DayRow[] }>(
      `SELECT calendar, to_char(day, 'YYYY-MM-DD') AS day, kind, close_local, name FROM trading_calendar_days`,
    ),
    knex<{ venue: string; symbol_pattern: string; calendar: string }>('venue_calendars').select(
      'venue',
      'symbol_pattern',
      'calendar',
    ),
  ]);
  const definitions: CalendarDefinition[] = calendars.map((c) => {
    const own = days.rows.filter((d) => d.calendar === c.name);
    return {
      name: c.name,
      description: c.description,
      timeZone: c.time_zone,
      session: { open: c.session_open, openDaysBefore: c.session_open_days_before, close: c.session_close },
      weekdays: c.weekdays,
      holidays: Object.fromEntries(own.filter((d) => d.kind === 'HOLIDAY').map((d) => [d.day, d.name])),
      earlyCloses: Object.fromEntries(
        own.filter((d) => d.kind === 'EARLY_CLOSE').map((d) => [d.day, { close: d.close_local ?? '', name: d.name }]),
      ),
    };
  });
  const venueRules: VenueCalendarRule[] = rules.map((r) => ({
    venue: r.venue,
    symbolPattern: r.symbol_pattern || null,
    calendar: r.calendar,
  }));
  return new CalendarBook(definitions, venueRules);
}

/**
 * The calendars a worker uses: loaded at start, reloaded when older than `refreshMs` (checked
 * once per flush, so a calendar added with SQL or `make calendars-seed` is picked up without a
 * restart). A failed reload keeps the calendars it has.
 */
export class DbCalendars implements SeriesCalendars {
  private book: CalendarBook = CalendarBook.EMPTY;
  private loadedAt = 0;

  constructor(
    private readonly knex: Knex,
    /** Told when a reload fails (an unreachable database, a calendar row that does not validate). */
    private readonly onReloadError: (err: unknown) => void = () => undefined,
    private readonly refreshMs = 60_000,
  ) {}

  async load(): Promise<void> {
    this.book = await loadCalendarBook(this.knex);
    this.loadedAt = Date.now();
  }

  async refresh(): Promise<void> {
    if (Date.now() - this.loadedAt < this.refreshMs) return;
    this.loadedAt = Date.now();
    try {
      this.book = await loadCalendarBook(this.knex);
    } catch (err) {
      this.onReloadError(err);
    }
  }

  forSeries(venue: string, symbol: string): TradingCalendar {
    return this.book.forSeries(venue, symbol);
  }
}

/** A worker's calendars, loaded before it starts; a reload that fails later is logged and the loaded ones kept. */
export async function loadWorkerCalendars(knex: Knex, log: Logger): Promise<DbCalendars> {
  const calendars = new DbCalendars(knex, (err) =>
    log.warn('reloading trading calendars failed; keeping the ones loaded', { err }),
  );
  await calendars.load();
  return calendars;
}

export interface ReevaluationResult {
  series: number;
  gapsExamined: number;
  /** Gaps entirely in closed time: deleted when never published, else FILLED (with an event). */
  gapsClosed: number;
  /** Gaps trimmed or split to the bars that should exist. */
  gapsTrimmed: number;
}

/**
 * Re-evaluates the open gaps (OPEN, BACKFILL_REQUESTED) of every series whose venue has a
 * calendar: each is cut to the bars that should exist. A gap that was only closed time is gone:
 * deleted if no event announced it yet, otherwise FILLED, so consumers that saw it open see it
 * closed. Changed gaps get a new event through the outbox (workers publish it). Safe while
 * workers run: gaps are locked as the workers lock them.
 */
export async function reevaluateOpenGaps(
  knex: Knex,
  gaps: GapStore,
  book: SeriesCalendars,
  options: { venue?: string } = {},
): Promise<ReevaluationResult> {
  const series = await knex('market_series as s')
    .whereExists((q) =>
      q
        .select(knex.raw('1'))
        .from('data_gaps as g')
        .whereRaw('g.series_id = s.id')
        .whereIn('g.status', ['OPEN', 'BACKFILL_REQUESTED']),
    )
    .modify((q) => {
      if (options.venue) q.whereRaw('lower(s.venue) = lower(?)', [options.venue]);
    })
    .select<Array<{ id: string; venue: string; symbol: string; timeframe: string }>>(
      's.id',
      's.venue',
      's.symbol',
      's.timeframe',
    );
  const result: ReevaluationResult = { series: 0, gapsExamined: 0, gapsClosed: 0, gapsTrimmed: 0 };
  for (const s of series) {
    const cal = book.forSeries(s.venue, s.symbol);
    if (cal.alwaysOpen) continue;
    result.series += 1;
    const tf = parseTimeframe(s.timeframe);
    await knex.transaction(async (trx) => {
      const ids = (
        await trx('data_gaps')
          .where('series_id', s.id)
          .whereIn('status', ['OPEN', 'BACKFILL_REQUESTED'])
          .select<Array<{ gap_id: string }>>('gap_id')
      ).map((r) => r.gap_id);
      // Locked first, as the workers lock a gap before changing it; then read in their locked state.
      await trx.raw(`SELECT 1 FROM data_gaps WHERE gap_id = ANY(?::text[]) FOR UPDATE`, [ids]);
      const open = await gaps.byIds(trx, ids);
      const present = await gaps.barTimes(
        open.map((g) => ({ seriesId: g.seriesId, afterMs: g.fromMs - 1, uptoMs: g.toMs - 1 })),
        trx,
      );
      for (const [i, gap] of open.entries()) {
        if (gap.status !== 'OPEN' && gap.status !== 'BACKFILL_REQUESTED') continue;
        result.gapsExamined += 1;
        const remaining = remainingCalendarGaps(cal, tf, gap, present[i]!);
        if (remaining.length === 0) {
          // Nothing of it was ever due: a gap nobody was told of goes; a published one is FILLED.
          const { rowCount } = await trx.raw<{ rowCount: number }>(
            `DELETE FROM data_gaps WHERE gap_id = ? AND published_version = 0`,
            [gap.gapId],
          );
          result.gapsClosed += 1;
          if (rowCount > 0) continue;
          await gaps.track(trx, gap, remaining, 0);
          continue;
        }
        // The detected range stays as it was recorded; what is still missing follows the calendar.
        if (await gaps.track(trx, gap, remaining, 0)) result.gapsTrimmed += 1;
      }
    });
  }
  return result;
}
