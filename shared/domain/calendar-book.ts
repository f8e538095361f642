import { CalendarDefinition, CalendarError, TradingCalendar } from './calendar';

/**
 * Which calendar a series follows. A venue maps to calendars by rows of (venue, symbol pattern,
 * calendar): a row with a pattern (a regular expression over the canonical symbol) wins over the
 * venue's row without one, longer patterns first; a venue with no row, or a symbol no row matches,
 * is always open. So `CME` + `^(ES|NQ|...)[FGHJKMNQUVXZ][0-9]{1,2}$` is CME's equity index
 * calendar, any other CME symbol follows the plain Globex week, and `Binance` is always open.
 */
export interface VenueCalendarRule {
  readonly venue: string;
  /** Regular expression over the canonical symbol; null or empty for the whole venue. */
  readonly symbolPattern: string | null;
  readonly calendar: string;
}

/** The lookup the gap code needs: one calendar per series. */
export interface SeriesCalendars {
  forSeries(venue: string, symbol: string): TradingCalendar;
}

/** Calendars that may reload themselves (from the database) between flushes. */
export type RefreshingCalendars = SeriesCalendars & { refresh?(): Promise<void> };

/** Every series always open: the default wherever no calendars are given. */
export const ALWAYS_OPEN_CALENDARS: RefreshingCalendars = { forSeries: () => TradingCalendar.ALWAYS_OPEN };

interface CompiledRule {
  pattern: RegExp | null;
  patternLength: number;
  calendar: TradingCalendar;
}

export class CalendarBook implements SeriesCalendars {
  static readonly EMPTY = new CalendarBook([], []);

  readonly calendars: ReadonlyMap<string, TradingCalendar>;
  private readonly rules = new Map<string, CompiledRule[]>();
  /** Answers per series: a series asks on every flush, the answer only changes with a reload. */
  private readonly cache = new Map<string, TradingCalendar>();

  constructor(definitions: readonly CalendarDefinition[], rules: readonly VenueCalendarRule[]) {
    this.calendars = new Map(definitions.map((d) => [d.name, TradingCalendar.of(d)]));
    for (const r of rules) {
      const calendar = this.calendars.get(r.calendar);
      if (!calendar)
        throw new CalendarError('INVALID_CALENDAR', `venue ${r.venue} maps to unknown calendar ${r.calendar}`);
      let pattern: RegExp | null = null;
      if (r.symbolPattern) {
        try {
          pattern = new RegExp(r.symbolPattern);
        } catch (err) {
          throw new CalendarError(
            'INVALID_CALENDAR',
            `venue ${r.venue}: symbol pattern ${JSON.stringify(r.symbolPattern)} is not a regular expression (${(err as Error).message})`,
          );
        }
      }
      const key = r.venue.toLowerCase();
      const list = this.rules.get(key) ?? [];
      list.push({ pattern, patternLength: r.symbolPattern?.length ?? 0, calendar });
      // Patterned rules before the venue-wide one; the longer (more specific) pattern first.
      list.sort((a, b) => b.patternLength - a.patternLength);
      this.rules.set(key, list);
    }
  }

  forSeries(venue: string, symbol: string): TradingCalendar {
    const key = `${venue}|${symbol}`;
    const known = this.cache.get(key);
    if (known) return known;
    let found = TradingCalendar.ALWAYS_OPEN;
    for (const rule of this.rules.get(venue.toLowerCase()) ?? []) {
      if (!rule.pattern || rule.pattern.test(symbol)) {
        found = rule.calendar;
        break;
      }
    }
    this.cache.set(key, found);
    return found;
  }

  /** Venues with at least one calendar. */
  venues(): string[] {
    return [...this.rules.keys()];
  }
}
