import { expect } from 'chai';
import vectors from '../vectors/calendars.json';
import {
  CalendarError,
  TradingCalendar,
  validateCalendar,
  type CalendarDefinition,
} from '../../shared/domain/calendar';
import { CalendarBook } from '../../shared/domain/calendar-book';
import {
  expectedRuns,
  expectsBar,
  fillsCalendarRange,
  findCalendarGaps,
  remainingCalendarGaps,
} from '../../shared/domain/calendar-gaps';
import { findGaps } from '../../shared/domain/gaps';
import { parseTimeframe } from '../../shared/domain/timeframe';
import { readCalendarFiles } from '../../shared/adapters/calendar-store';

const files = readCalendarFiles();
const book = new CalendarBook(
  files,
  files.flatMap((f) =>
    f.venues.map((v) => ({ venue: v.venue, symbolPattern: v.symbolPattern ?? null, calendar: f.name })),
  ),
);
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const cme = book.forSeries('CME', 'ESZ6');
const nyse = book.forSeries('NYSE', 'IBM');
const M1 = parseTimeframe('1-Min');

describe('trading calendars (test vectors)', () => {
  for (const v of vectors.cases) {
    it(`${v.venue} ${v.symbol} ${v.timeframe}: ${v.name}`, () => {
      const cal = book.forSeries(v.venue, v.symbol);
      expect(cal.name).to.equal(v.calendar);
      const gaps = findCalendarGaps(cal, parseTimeframe(v.timeframe), at(v.previous), [at(v.next)]);
      expect(gaps.map((g) => ({ from: iso(g.fromMs), to: iso(g.toMs), missing_bars: g.missingBars }))).to.deep.equal(
        v.gaps,
      );
    });
  }
});

describe('trading calendars: sessions', () => {
  it('CME opens Sunday 17:00 Chicago: 23:00Z in winter, 22:00Z in summer (daylight saving from the zone database)', () => {
    const mondays = ['2026-03-02', '2026-03-09', '2026-10-26', '2026-11-02'].map((d) =>
      cme.session(at(`${d}T00:00:00Z`))!,
    );
    expect(mondays.map((s) => [iso(s.openMs), iso(s.closeMs)])).to.deep.equal([
      ['2026-03-01T23:00:00Z', '2026-03-02T22:00:00Z'],
      ['2026-03-08T22:00:00Z', '2026-03-09T21:00:00Z'],
      ['2026-10-25T22:00:00Z', '2026-10-26T21:00:00Z'],
      ['2026-11-01T23:00:00Z', '2026-11-02T22:00:00Z'],
    ]);
  });

  it('holidays have no session, early closes a shorter one, weekends none', () => {
    expect(nyse.session(at('2025-01-09T00:00:00Z'))).to.equal(null);
    expect(nyse.session(at('2025-11-27T00:00:00Z'))).to.equal(null);
    expect(nyse.session(at('2025-11-29T00:00:00Z'))).to.equal(null);
    expect(iso(nyse.session(at('2025-11-28T00:00:00Z'))!.closeMs)).to.equal('2025-11-28T18:00:00Z');
    expect(cme.session(at('2025-12-25T00:00:00Z'))).to.equal(null);
    expect(iso(cme.session(at('2025-12-26T00:00:00Z'))!.openMs)).to.equal('2025-12-25T23:00:00Z');
  });

  it('a bar inside closed time is not expected; one that overlaps the open is', () => {
    expect(expectsBar(cme, M1, at('2025-11-18T22:30:00Z'))).to.equal(false);
    expect(expectsBar(cme, M1, at('2025-11-18T23:00:00Z'))).to.equal(true);
    expect(expectsBar(nyse, parseTimeframe('1-Hour'), at('2026-03-09T13:00:00Z'))).to.equal(true);
    expect(expectsBar(nyse, parseTimeframe('1-Hour'), at('2026-03-09T12:00:00Z'))).to.equal(false);
    expect(expectsBar(TradingCalendar.ALWAYS_OPEN, M1, at('2025-11-22T12:00:00Z'))).to.equal(true);
  });

  it('a venue rule with a symbol pattern wins over the venue-wide one; unknown venues are always open', () => {
    expect(book.forSeries('CME', 'NQH7').name).to.equal('CME-EQUITY-INDEX');
    expect(book.forSeries('CME', 'CLZ6').name).to.equal('CME-GLOBEX');
    expect(book.forSeries('cme', 'ESZ6').name).to.equal('CME-EQUITY-INDEX');
    expect(book.forSeries('NASDAQ', 'AAPL').name).to.equal('US-EQUITIES');
    expect(book.forSeries('Kraken', 'BTC/USD').alwaysOpen).to.equal(true);
  });
});

describe('trading calendars: gap arithmetic', () => {
  it('the always-open calendar gives exactly the plain gaps', () => {
    const times = [0, 5, 6, 20, 21, 40].map((i) => at('2025-11-21T20:00:00Z') + i * 60_000);
    expect(findCalendarGaps(TradingCalendar.ALWAYS_OPEN, M1, times[0]! - 60_000, times)).to.deep.equal(
      findGaps(M1, times[0]! - 60_000, times),
    );
  });

  it('a hole across a whole week of CME 1-Min bars is one gap per session, each counting open minutes only', () => {
    const gaps = findCalendarGaps(cme, M1, at('2025-11-14T21:59:00Z'), [at('2025-11-23T23:00:00Z')]);
    // Monday..Friday sessions of the week of 17 November, 23 hours each.
    expect(gaps.map((g) => g.missingBars)).to.deep.equal([1380, 1380, 1380, 1380, 1380]);
    expect(iso(gaps[0]!.fromMs)).to.equal('2025-11-16T23:00:00Z');
    expect(iso(gaps[4]!.toMs)).to.equal('2025-11-21T22:00:00Z');
  });

  it('late bars shrink a gap and what is left is trimmed to open time', () => {
    // A gap stored before the venue had a calendar: Friday 21:30Z to Sunday 23:30Z.
    const range = { fromMs: at('2025-11-21T21:30:00Z'), toMs: at('2025-11-23T23:30:00Z') };
    const remaining = remainingCalendarGaps(cme, M1, range, [at('2025-11-21T21:45:00Z')]);
    expect(remaining.map((g) => [iso(g.fromMs), iso(g.toMs), g.missingBars])).to.deep.equal([
      ['2025-11-21T21:30:00Z', '2025-11-21T21:45:00Z', 15],
      ['2025-11-21T21:46:00Z', '2025-11-21T22:00:00Z', 14],
      ['2025-11-23T23:00:00Z', '2025-11-23T23:30:00Z', 30],
    ]);
    expect(
      remainingCalendarGaps(cme, M1, { fromMs: at('2025-11-21T22:00:00Z'), toMs: at('2025-11-23T23:00:00Z') }, []),
    ).to.deep.equal([]);
  });

  it('a flush that holds every open-time bar of a range fills it, closed time or not', () => {
    const times = [at('2025-11-18T21:58:00Z'), at('2025-11-18T21:59:00Z'), at('2025-11-18T23:00:00Z')];
    expect(fillsCalendarRange(cme, M1, at('2025-11-18T21:57:00Z'), times[2]!, times)).to.equal(true);
    expect(fillsCalendarRange(cme, M1, at('2025-11-18T21:56:00Z'), times[2]!, times)).to.equal(false);
  });

  it('runs of Day bars skip weekends and holidays', () => {
    const runs = expectedRuns(nyse, parseTimeframe('1-Day'), {
      fromMs: at('2025-12-20T00:00:00Z'),
      toMs: at('2026-01-06T00:00:00Z'),
    });
    // 25 December and 1 January are holidays, 24 December an early close (a trading day).
    expect(runs.map((r) => [iso(r.fromMs).slice(0, 10), r.missingBars])).to.deep.equal([
      ['2025-12-22', 3],
      ['2025-12-26', 1],
      ['2025-12-29', 3],
      ['2026-01-02', 1],
      ['2026-01-05', 1],
    ]);
  });

  it('a full CME week of 1-Min bars has no gap: Monday 00:00Z to Sunday 24:00Z holds 115 open hours', () => {
    const week = Array.from({ length: 7 * 1440 }, (_, i) => at('2025-11-17T00:00:00Z') + i * 60_000);
    const present = week.filter((t) => expectsBar(cme, M1, t));
    expect(present.length).to.equal(115 * 60);
    expect(findCalendarGaps(cme, M1, present[0]! - 60_000, present)).to.deep.equal([]);
  });
});

describe('trading calendars: validation', () => {
  const base: CalendarDefinition = {
    name: 'X',
    timeZone: 'America/New_York',
    session: { open: '09:30', openDaysBefore: 0, close: '16:00' },
    weekdays: ['Mon'],
    holidays: {},
    earlyCloses: {},
  };
  const invalid = (patch: Partial<CalendarDefinition>, pattern: RegExp): void => {
    expect(() => validateCalendar({ ...base, ...patch }))
      .to.throw(CalendarError, pattern)
      .with.property('code', 'INVALID_CALENDAR');
  };
  it('names the bad field', () => {
    invalid({ timeZone: 'EST+5' }, /time zone/);
    invalid({ session: { open: '9:30', openDaysBefore: 0, close: '16:00' } }, /session.open/);
    invalid({ holidays: { '2025-02-30': 'x' } }, /holiday 2025-02-30/);
    invalid({ session: { open: '17:00', openDaysBefore: 0, close: '16:00' } }, /opens after it closes/);
    expect(() => new CalendarBook([base], [{ venue: 'V', symbolPattern: null, calendar: 'Y' }])).to.throw(
      /unknown calendar Y/,
    );
  });
});
