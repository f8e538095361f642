import { expect } from 'chai';
import type { WireBar } from '../../shared/domain/bar';
import { db, minuteBar, minutesAgo, TestContext, truncateData, countRows } from '../support/stack';

/** Every stored bar, with xmin: a row PostgreSQL rewrote has a new xmin even if its values match. */
async function snapshot(): Promise<string> {
  const { rows } = await db().raw(`SELECT xmin::text AS xmin, b.* FROM market_bars b ORDER BY series_id, ts_utc`);
  return JSON.stringify(rows);
}

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('ingest pipeline: shared, deduplicated, venue-strict series', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  it('5 runs publishing the same 1,000 bars store 1,000 rows and 5 subscriptions', async () => {
    const start = minutesAgo(1100);
    const bars: WireBar[] = [];
    for (let run = 1; run <= 5; run++) {
      for (let i = 0; i < 1000; i++) bars.push(minuteBar(start, i, { run_id: `run-${run}` }));
    }
    await ctx.publish(bars);
    await ctx.startWorker();
    await ctx.waitForLag0();

    expect(await countRows('market_bars')).to.equal(1000);
    expect(await countRows('market_series')).to.equal(1);
    const subs = await db()('run_subscriptions').orderBy('run_id').select('run_id', 'first_bar_utc', 'last_bar_utc');
    expect(subs.map((s) => s.run_id)).to.deep.equal(['run-1', 'run-2', 'run-3', 'run-4', 'run-5']);
    for (const s of subs) {
      expect((s.first_bar_utc as Date).getTime()).to.equal(start);
      expect((s.last_bar_utc as Date).getTime()).to.equal(start + 999 * 60_000);
    }
    expect(await countRows('strategy_runs')).to.equal(5);
  });

  it('re-sending the same bars 3 times in shuffled order changes nothing; a changed close bumps the revision once', async () => {
    const start = minutesAgo(300);
    const bars = Array.from({ length: 200 }, (_, i) => minuteBar(start, i));
    await ctx.publish(bars);
    await ctx.startWorker();
    await ctx.waitForLag0();
    const before = await snapshot();

    await ctx.publish(shuffled([...bars, ...bars, ...bars]));
    await ctx.waitForLag0();
    expect(await snapshot()).to.equal(before);

    await ctx.publish([{ ...bars[42]!, close: bars[42]!.close + 0.25 }]);
    await ctx.waitForLag0();
    const changed = await db()('market_bars').where('revision', '>', 0).select('close', 'revision', 'ts_utc');
    expect(changed).to.have.length(1);
    expect(changed[0]).to.include({ close: bars[42]!.close + 0.25, revision: 1 });
    expect((changed[0].ts_utc as Date).getTime()).to.equal(bars[42]!.ts_utc);
  });

  it('keeps venues apart and merges spellings within a venue', async () => {
    const t = minutesAgo(5);
    await ctx.publish([
      minuteBar(t, 0, { symbol: 'BTCUSD', venue: 'Binance' }),
      minuteBar(t, 0, { symbol: 'BTC/USD', venue: 'Coinbase' }),
      minuteBar(t, 0, { symbol: 'BTC-USDT', venue: 'Binance' }),
      minuteBar(t, 1, { symbol: 'BTCUSDT', venue: 'binance', timeframe: 'M1' }),
    ]);
    await ctx.startWorker();
    await ctx.waitForLag0();
    const series = await db()('market_series').orderBy(['venue', 'symbol']).select('venue', 'symbol', 'timeframe');
    expect(series).to.deep.equal([
      { venue: 'Binance', symbol: 'BTC/USD', timeframe: '1-Min' },
      { venue: 'Binance', symbol: 'BTC/USDT', timeframe: '1-Min' },
      { venue: 'Coinbase', symbol: 'BTC/USD', timeframe: '1-Min' },
    ]);
    expect(await countRows('market_bars')).to.equal(4);
  });

  // Batching adapts to load, so a backlog is written in flushes as large as the cap allows; the
  // statement itself takes any size (bar-store.test.ts writes 100,000 rows in one).
  it('writes a backlog of 20,000 bars in flushes no larger than the cap, all stored', async () => {
    const start = minutesAgo(20_100);
    await ctx.publish(Array.from({ length: 20_000 }, (_, i) => minuteBar(start, i)));
    const worker = await ctx.startWorker({ BI_FLUSH_MAX_MESSAGES: '4000' });
    await ctx.waitForLag0(120_000);
    expect(await countRows('market_bars')).to.equal(20_000);
    expect(worker.core.metrics.largestFlush).to.be.at.most(4_000);
    expect(worker.core.metrics.dependencyFailures).to.equal(0);
  });

  it('replaying the whole topic from the earliest offset after a correction keeps the correction', async () => {
    const start = minutesAgo(60);
    const bars = Array.from({ length: 30 }, (_, i) => minuteBar(start, i));
    await ctx.publish(bars);
    const first = await ctx.startWorker();
    await ctx.waitForLag0();
    // A correction inside the bar's range (high 109, low 106).
    await ctx.publish([{ ...bars[7]!, close: 108.75 }]);
    await ctx.waitForLag0();
    await first.stop();

    const admin = ctx.kafka.admin();
    await admin.connect();
    await admin.resetOffsets({ groupId: `${ctx.prefix}ingest`, topic: ctx.topics.bars, earliest: true });
    await admin.disconnect();
    expect(await ctx.lag()).to.equal(31);

    await ctx.startWorker();
    await ctx.waitForLag0();
    const row = await db()('market_bars').where('ts_utc', new Date(bars[7]!.ts_utc)).first('close', 'revision');
    expect(row).to.include({ close: 108.75, revision: 1 });
    expect(await countRows('market_bars')).to.equal(30);
  });
});
