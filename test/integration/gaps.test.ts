import { expect } from 'chai';
import { createRedis } from '../../shared/adapters/redis';
import { db, minuteBar, minutesAgo, sleep, TestContext, truncateData, waitFor, countRows } from '../support/stack';

const M = 60_000;

interface GapRow {
  gap_id: string;
  from_utc: Date;
  to_utc: Date;
  missing_bars: number;
  status: string;
  kind: string;
}
const gapRows = async (): Promise<GapRow[]> =>
  db()('data_gaps').orderBy('from_utc').select('gap_id', 'from_utc', 'to_utc', 'missing_bars', 'status', 'kind');

describe('continuity: gaps detected once, from Redis state rebuilt from PostgreSQL', function () {
  this.timeout(180_000);
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  it('a 7-minute hole is one gap [t+1min, t+8min) with 7 missing bars: one row and one event, however often redelivered', async () => {
    const t = minutesAgo(60);
    const bars = [
      ...Array.from({ length: 2 }, (_, i) => minuteBar(t, i - 1)),
      ...Array.from({ length: 10 }, (_, i) => minuteBar(t, 8 + i)),
    ];
    await ctx.publish(bars);
    const first = await ctx.startWorker();
    await ctx.waitForLag0();
    await first.stop();

    // Redelivery: the same batch, twice more, through a consumer group reset to the beginning.
    for (let round = 0; round < 2; round++) {
      const admin = ctx.kafka.admin();
      await admin.connect();
      await admin.resetOffsets({ groupId: `${ctx.prefix}ingest`, topic: ctx.topics.bars, earliest: true });
      await admin.disconnect();
      const again = await ctx.startWorker();
      await ctx.waitForLag0();
      await again.stop();
    }

    const rows = await gapRows();
    expect(rows).to.have.length(1);
    expect(rows[0]!.from_utc.getTime()).to.equal(t + M);
    expect(rows[0]!.to_utc.getTime()).to.equal(t + 8 * M);
    expect(rows[0]).to.include({ missing_bars: 7, status: 'OPEN', gap_id: rows[0]!.gap_id });
    const events = await ctx.readAll(ctx.topics.gaps, 1, 20_000);
    expect(events).to.have.length(1);
    const event = (await ctx.codec.decode(events[0]!.value!)) as Record<string, unknown>;
    expect(event).to.include({
      gap_id: rows[0]!.gap_id,
      from_utc: t + M,
      to_utc: t + 8 * M,
      missing_bars: 7,
      status: 'OPEN',
    });
    expect(events[0]!.key).to.equal('Quantower|Binance|BTC/USDT|1-Min');
  });

  it('late bars inside a gap keep its detected range and count, track what is still missing beside them, and a gap fully present becomes FILLED', async () => {
    const t = minutesAgo(60);
    await ctx.startWorker();
    await ctx.publish([minuteBar(t, 0), minuteBar(t, 10)]);
    await ctx.waitForLag0();
    expect((await gapRows()).map((g) => g.missing_bars)).to.deep.equal([9]);

    await ctx.publish([minuteBar(t, 4)]);
    await ctx.waitForLag0();
    const split = await db()('data_gaps').select(
      'from_utc',
      'to_utc',
      'missing_bars',
      'remaining_bars',
      'remaining',
      'status',
    );
    expect(split).to.have.length(1);
    expect([split[0]!.from_utc.getTime(), split[0]!.to_utc.getTime(), split[0]!.missing_bars]).to.deep.equal([
      t + M,
      t + 10 * M,
      9,
    ]);
    expect(split[0]).to.include({ remaining_bars: 8, status: 'OPEN' });
    expect(split[0]!.remaining).to.deep.equal([
      { from_ms: t + M, to_ms: t + 4 * M, missing_bars: 3 },
      { from_ms: t + 5 * M, to_ms: t + 10 * M, missing_bars: 5 },
    ]);

    await ctx.publish([1, 2, 3, 5, 6, 7, 8, 9].map((i) => minuteBar(t, i)));
    await ctx.waitForLag0();
    const rows = await db()('data_gaps').select(
      'missing_bars',
      'remaining_bars',
      'remaining',
      'status',
      'filled_at',
      'filled_by',
    );
    expect(rows.map((g) => [g.missing_bars, g.remaining_bars, g.status, g.filled_by])).to.deep.equal([
      [9, 0, 'FILLED', 'LIVE'],
    ]);
    expect(rows[0]!.remaining).to.deep.equal([]);
    expect(rows[0]!.filled_at).to.be.an.instanceOf(Date);

    // Every change is an event, in order, each carrying the detected range and what is still missing.
    await waitFor(async () => (await ctx.messagesOn(ctx.topics.gaps)) >= 3, 20_000, '3 DataGap events');
    const events = await Promise.all(
      (await ctx.readAll(ctx.topics.gaps, 3, 20_000)).map(
        async (m) => (await ctx.codec.decode(m.value!)) as Record<string, unknown>,
      ),
    );
    expect(events.map((e) => [e.version, e.status, e.missing_bars, e.remaining_bars, e.filled_by])).to.deep.equal([
      [1, 'OPEN', 9, 9, null],
      [2, 'OPEN', 9, 8, null],
      [3, 'FILLED', 9, 0, 'LIVE'],
    ]);
    expect(JSON.parse(JSON.stringify(events[1]!.remaining))).to.deep.equal([
      { from_utc: t + M, to_utc: t + 4 * M, missing_bars: 3 },
      { from_utc: t + 5 * M, to_utc: t + 10 * M, missing_bars: 5 },
    ]);
  });

  it('a briefly reordered stream raises no gap within the grace period, and a reported gap once filled is FILLED', async () => {
    const t = minutesAgo(60);
    const gapEvents = (): Promise<number> => ctx.messagesOn(ctx.topics.gaps);
    // Bars 3 and 4 arrive one flush late.
    const reordered = async (): Promise<void> => {
      await ctx.publish([0, 1, 2, 5, 6].map((i) => minuteBar(t, i)));
      await ctx.waitForLag0();
      await ctx.publish([3, 4].map((i) => minuteBar(t, i)));
      await ctx.waitForLag0();
    };

    const patient = await ctx.startWorker({ BI_GAP_GRACE_MS: '10000' });
    await reordered();
    await sleep(1_500);
    expect(await gapRows()).to.deep.equal([]);
    expect(await gapEvents()).to.equal(0);
    await patient.stop();

    // Without allowed lateness the same reordering is a gap, reported, then filled.
    await truncateData();
    await ctx.startWorker({ BI_GAP_GRACE_MS: '0', BI_REDIS_NAMESPACE: `${ctx.prefix}again:` });
    await reordered();
    expect((await gapRows()).map((g) => [g.missing_bars, g.status])).to.deep.equal([[2, 'FILLED']]);
    await waitFor(async () => (await gapEvents()) >= 1, 10_000, 'a DataGap event');
  });

  it('FLUSHALL on Redis mid-stream causes no false gap and no missed gap', async () => {
    const t = minutesAgo(120);
    await ctx.startWorker();
    await ctx.publish(Array.from({ length: 30 }, (_, i) => minuteBar(t, i)));
    await ctx.waitForLag0();

    const redis = createRedis(ctx.connections.redis);
    await redis.flushall();
    redis.disconnect();

    // Contiguous with what is stored (no false gap), then a real 5-bar hole (not missed).
    await ctx.publish(Array.from({ length: 20 }, (_, i) => minuteBar(t, 30 + i)));
    await ctx.waitForLag0();
    await ctx.publish(Array.from({ length: 10 }, (_, i) => minuteBar(t, 55 + i)));
    await ctx.waitForLag0();

    const rows = await gapRows();
    expect(rows.map((g) => [g.from_utc.getTime(), g.to_utc.getTime(), g.missing_bars])).to.deep.equal([
      [t + 50 * M, t + 55 * M, 5],
    ]);
  });

  it('two workers fed the same series through two partitions at once report each gap exactly once', async () => {
    const t = minutesAgo(700);
    const holes = new Set([50, 51, 52, 200, 333, 334, 500, 501, 502, 503]);
    const present = Array.from({ length: 600 }, (_, i) => i).filter((i) => !holes.has(i));
    // The exporter spells the symbol two ways, so the series arrives on two keys (two partitions).
    const bars = present.map((i) => minuteBar(t, i, { symbol: i % 2 === 0 ? 'BTCUSDT' : 'BTC-USDT' }));
    await ctx.publish(bars);
    // The two workers reorder the series between them for as long as they take to drain the
    // topic; the allowed lateness must cover that, or a reordering is reported (and then FILLED).
    // 15 s is far more than draining 600 bars takes, even on a loaded 2-core machine.
    const env = { BI_FLUSH_MAX_MESSAGES: '40', BI_FLUSH_MAX_WAIT_MS: '50', BI_GAP_GRACE_MS: '15000' };
    await Promise.all([ctx.startWorker(env), ctx.startWorker(env)]);
    const started = Date.now();
    await ctx.waitForLag0();
    expect(Date.now() - started, 'draining took longer than the grace period').to.be.below(15_000);
    await sleep(16_500);

    const expected = [
      [t + 50 * M, t + 53 * M],
      [t + 200 * M, t + 201 * M],
      [t + 333 * M, t + 335 * M],
      [t + 500 * M, t + 504 * M],
    ];
    await waitFor(async () => (await gapRows()).filter((g) => g.status === 'OPEN').length === 4, 10_000, '4 open gaps');
    const open = (await gapRows()).filter((g) => g.status === 'OPEN');
    expect(open.map((g) => [g.from_utc.getTime(), g.to_utc.getTime()])).to.deep.equal(expected);
    // Exactly one event per gap on the topic (counted from its offsets, no consumer group).
    await waitFor(async () => (await ctx.messagesOn(ctx.topics.gaps)) >= 4, 60_000, '4 DataGap events');
    expect(await ctx.messagesOn(ctx.topics.gaps)).to.equal(4);
    expect(await countRows('data_gaps', (q) => q.whereRaw('published_version = event_version'))).to.equal(4);
  });
});
