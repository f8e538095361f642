import { expect } from 'chai';
import { countRows, db, minuteBar, TestContext, truncateData } from '../support/stack';
import type { WireBar } from '../../shared/domain/bar';
import { loadCalendarBook, reevaluateOpenGaps } from '../../shared/adapters/calendar-store';
import { GapStore } from '../../shared/adapters/gap-store';

const M = 60_000;
const at = (iso: string): number => Date.parse(iso);
const iso = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

/** Bars every `stepMin` minutes in `[fromIso, toIso)`. */
function bars(fromIso: string, toIso: string, stepMin: number, patch: Partial<WireBar>): WireBar[] {
  const out: WireBar[] = [];
  for (let t = at(fromIso); t < at(toIso); t += stepMin * M) out.push(minuteBar(t, 0, { ...patch }));
  return out;
}

const gapRows = async (): Promise<Array<[string, string, number, string]>> =>
  (
    await db()('data_gaps')
      .orderBy('from_utc')
      .select<Array<{ from_utc: Date; to_utc: Date; missing_bars: number; status: string }>>(
        'from_utc',
        'to_utc',
        'missing_bars',
        'status',
      )
  ).map((g) => [iso(g.from_utc), iso(g.to_utc), g.missing_bars, g.status]);

const CME = { symbol: 'ESH6', venue: 'CME', timeframe: '1m' };
/**
 * CME E-mini S&P 500, 1-Min, over the weekend daylight saving starts: Friday 2026-03-06 until the
 * 16:00 CST close (22:00Z), then from the Sunday 17:00 CDT open (22:00Z) to Monday 12:00 CDT. One
 * bar arrives inside Friday's closed time (a venue that sends one): stored, counted, no gap.
 */
const cmeWeekend = (): WireBar[] => [
  ...bars('2026-03-06T19:00:00Z', '2026-03-06T22:00:00Z', 1, CME),
  ...bars('2026-03-06T22:30:00Z', '2026-03-06T22:31:00Z', 1, CME),
  ...bars('2026-03-08T22:00:00Z', '2026-03-09T17:00:00Z', 1, CME),
];

describe('trading calendars: a closed market is not a gap (real services)', function () {
  this.timeout(180_000);
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  it('a CME 1-Min series through Friday close, the weekend and Sunday open raises no gap; the bar in closed time is stored and counted', async () => {
    const worker = await ctx.startWorker();
    const stream = cmeWeekend();
    await ctx.publish(stream);
    await ctx.waitForLag0();
    expect(await gapRows()).to.deep.equal([]);
    expect(await countRows('market_bars')).to.equal(stream.length);
    expect(worker.closedTimeBars.total).to.equal(1);
  });

  it('the same stream with an hour withheld on Monday raises exactly that gap', async () => {
    await ctx.startWorker();
    const withheld = (b: WireBar): boolean =>
      b.ts_utc >= at('2026-03-09T14:00:00Z') && b.ts_utc < at('2026-03-09T15:00:00Z');
    await ctx.publish(cmeWeekend().filter((b) => !withheld(b)));
    await ctx.waitForLag0();
    expect(await gapRows()).to.deep.equal([['2026-03-09T14:00:00Z', '2026-03-09T15:00:00Z', 60, 'OPEN']]);
  });

  it('a NASDAQ 5-Min series over Thanksgiving (holiday, then a 13:00 early close) raises no gap', async () => {
    const nasdaq = { symbol: 'AAPL', venue: 'NASDAQ', timeframe: '5m' };
    await ctx.startWorker();
    // In flushes in order, so each night, the holiday and the weekend is a hole gap detection sees.
    for (const [from, to] of [
      ['2025-11-26T14:30:00Z', '2025-11-26T21:00:00Z'],
      ['2025-11-28T14:30:00Z', '2025-11-28T18:00:00Z'],
      ['2025-12-01T14:30:00Z', '2025-12-01T21:00:00Z'],
    ] as const) {
      await ctx.publish(bars(from, to, 5, nasdaq));
      await ctx.waitForLag0();
    }
    expect(await countRows('market_bars')).to.equal(78 + 42 + 78);
    expect(await gapRows()).to.deep.equal([]);
  });

  it('a crypto series over the same weekend still reports the hole', async () => {
    await ctx.startWorker();
    const binance = { symbol: 'BTCUSDT', venue: 'Binance', timeframe: '1m' };
    await ctx.publish([
      ...bars('2026-03-06T21:00:00Z', '2026-03-06T22:00:00Z', 1, binance),
      ...bars('2026-03-08T22:00:00Z', '2026-03-08T22:10:00Z', 1, binance),
    ]);
    await ctx.waitForLag0();
    expect(await gapRows()).to.deep.equal([['2026-03-06T22:00:00Z', '2026-03-08T22:00:00Z', 2880, 'OPEN']]);
  });

  it('re-evaluating gaps found before the venue had a calendar trims, splits and closes them', async () => {
    const [series] = await db()('market_series')
      .insert({ symbol: 'ESH6', timeframe: '1-Min', provider: 'Quantower', venue: 'CME' })
      .returning<Array<{ id: string }>>('id');
    const id = Number(series!.id);
    const gap = (fromIso: string, toIso: string, published: number) => ({
      gap_id: `gap-${id}-${at(fromIso)}`,
      series_id: id,
      from_utc: new Date(fromIso),
      to_utc: new Date(toIso),
      missing_bars: (at(toIso) - at(fromIso)) / M,
      published_version: published,
    });
    await db()('data_gaps').insert([
      // Friday 15:30 CST to Sunday 17:30 CDT: 30 minutes before the close and 30 after the open.
      gap('2026-03-06T21:30:00Z', '2026-03-08T22:30:00Z', 1),
      // Only the daily halt (Monday 16:00-17:00 CDT), never announced: it goes away.
      gap('2026-03-09T21:00:00Z', '2026-03-09T22:00:00Z', 0),
      // Only Tuesday's halt, announced: FILLED, with a new event.
      gap('2026-03-10T21:00:00Z', '2026-03-10T22:00:00Z', 1),
    ]);
    const result = await reevaluateOpenGaps(db(), new GapStore(db()), await loadCalendarBook(db()));
    expect(result).to.deep.include({ series: 1, gapsExamined: 3, gapsTrimmed: 1, gapsClosed: 2 });
    // A gap keeps the range it was detected with (#11); what is still missing of it follows the
    // calendar: 30 minutes before Friday's close and 30 after Sunday's open.
    expect(await gapRows()).to.deep.equal([
      ['2026-03-06T21:30:00Z', '2026-03-08T22:30:00Z', 2940, 'OPEN'],
      ['2026-03-10T21:00:00Z', '2026-03-10T22:00:00Z', 60, 'FILLED'],
    ]);
    const [weekend] = await db()('data_gaps').orderBy('from_utc').select('remaining_bars', 'remaining');
    expect(weekend.remaining_bars).to.equal(60);
    expect(
      (weekend.remaining as Array<{ from_ms: number; to_ms: number }>).map((p) => [
        iso(new Date(p.from_ms)),
        iso(new Date(p.to_ms)),
      ]),
    ).to.deep.equal([
      ['2026-03-06T21:30:00Z', '2026-03-06T22:00:00Z'],
      ['2026-03-08T22:00:00Z', '2026-03-08T22:30:00Z'],
    ]);
    // Run again: nothing left to change.
    const again = await reevaluateOpenGaps(db(), new GapStore(db()), await loadCalendarBook(db()));
    expect(again).to.deep.include({ gapsTrimmed: 0, gapsClosed: 0 });
  });
});
