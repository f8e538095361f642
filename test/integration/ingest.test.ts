import { expect } from 'chai';
import { db, minuteBar, minutesAgo, TestContext, truncateData, waitFor } from '../support/stack';

interface BarRecord {
  close: number;
  revision: number;
  updated_at: Date;
}

async function barsOf(symbol = 'BTC/USDT'): Promise<BarRecord[]> {
  return db()('market_bars as b')
    .join('market_series as s', 's.id', 'b.series_id')
    .where('s.symbol', symbol)
    .orderBy('b.ts_utc')
    .select('b.close', 'b.revision', 'b.updated_at', 'b.ts_utc');
}

describe('ingest: walking skeleton through the real stack', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  it('stores one bar published three times exactly once, and a changed bar overwrites it', async () => {
    const start = minutesAgo(10);
    const bar = minuteBar(start, 0);
    await ctx.startWorker();
    await ctx.publish([bar, bar, bar]);
    await ctx.waitForLag0();

    const once = await barsOf();
    expect(once).to.have.length(1);
    expect(once[0]).to.include({ close: bar.close, revision: 0 });

    await ctx.publish([{ ...bar, close: bar.close + 0.5 }]);
    await ctx.waitForLag0();
    const corrected = await barsOf();
    expect(corrected).to.have.length(1);
    expect(corrected[0]).to.include({ close: bar.close + 0.5, revision: 1 });

    const series = await db()('market_series').select(
      'symbol',
      'timeframe',
      'provider',
      'venue',
      'start_utc',
      'end_utc',
    );
    expect(series).to.have.length(1);
    expect(series[0]).to.include({ symbol: 'BTC/USDT', timeframe: '1-Min', provider: 'Quantower', venue: 'Binance' });
    expect((series[0].start_utc as Date).getTime()).to.equal(start);
    expect((series[0].end_utc as Date).getTime()).to.equal(start);
  });

  it('commits offsets only up to what it stored: the committed offset equals the topic end', async () => {
    const start = minutesAgo(30);
    await ctx.startWorker();
    await ctx.publish(Array.from({ length: 25 }, (_, i) => minuteBar(start, i)));
    await waitFor(async () => (await ctx.lag()) === 0, 60_000, 'lag 0');
    const rows = await db()('market_bars').count<{ count: string }[]>('* as count');
    expect(Number(rows[0]?.count)).to.equal(25);
  });
});
