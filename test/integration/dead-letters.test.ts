import { expect } from 'chai';
import type { WireBar } from '../../shared/domain/bar';
import { db, minuteBar, minutesAgo, sleep, TestContext, truncateData, countRows } from '../support/stack';

describe('bad input goes to the dead-letter topic, and the worker keeps going', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  it('dead-letters every kind of bad input with its code and source, and stores the good bars around it', async () => {
    const t = minutesAgo(100);
    const good = (i: number): WireBar => minuteBar(t, i);
    const bad: Array<[string, WireBar]> = [
      ['UNKNOWN_VENUE', minuteBar(t, 50, { venue: 'NoSuchExchange' })],
      ['UNKNOWN_PROVIDER', minuteBar(t, 50, { provider: 'NoSuchApp' })],
      ['UNMAPPED_EXPORTER', minuteBar(t, 50, { provider: null, venue: null })],
      ['INVALID_SYMBOL', minuteBar(t, 50, { symbol: 'BTC/USDT/EUR' })],
      ['INVALID_TIMEFRAME', minuteBar(t, 50, { timeframe: 'fortnightly' })],
      ['INVALID_PRICE', minuteBar(t, 50, { close: Number.NaN })],
      ['INVALID_PRICE', minuteBar(t, 50, { open: Number.POSITIVE_INFINITY })],
      ['INVALID_PRICE', minuteBar(t, 50, { low: -5 })],
      ['INVALID_OHLC', minuteBar(t, 50, { high: 10 })],
      ['INVALID_OHLC', minuteBar(t, 50, { low: 500 })],
      ['INVALID_VOLUME', minuteBar(t, 50, { volume: -1 })],
      ['MISALIGNED_TIMESTAMP', minuteBar(t, 50, { ts_utc: t + 50 * 60_000 + 1_234 })],
      ['FUTURE_TIMESTAMP', minuteBar(t, 50, { ts_utc: minutesAgo(-10) })],
      ['FIELD_TOO_LONG', minuteBar(t, 50, { symbol: 'B'.repeat(1_000) })],
      ['FIELD_TOO_LONG', minuteBar(t, 50, { run_id: 'r'.repeat(1_000) })],
    ];
    const publisher = await ctx.publisher();
    const messages = [];
    for (let i = 0; i < 10; i++) messages.push(await publisher.encode(good(i)));
    for (const [, bar] of bad) messages.push(await publisher.encode(bar));
    // Bytes that are not Avro at all, and a well-framed message naming a schema id nobody registered.
    messages.push({ key: 'x', value: Buffer.from('definitely not avro'), headers: {} });
    messages.push({ key: 'x', value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]), headers: {} });
    // A truncated Avro body.
    const whole = (await publisher.encode(good(60))).value as Buffer;
    messages.push({ key: 'x', value: whole.subarray(0, whole.length - 4), headers: {} });
    for (let i = 10; i < 20; i++) messages.push(await publisher.encode(good(i)));
    await publisher.sendRaw(messages);

    const worker = await ctx.startWorker();
    await ctx.waitForLag0();

    const expected = [...bad.map(([code]) => code), 'DECODE_FAILED', 'UNKNOWN_SCHEMA', 'DECODE_FAILED'].sort();
    const dead = await ctx.readAll(ctx.topics.barsDlq, expected.length);
    expect(dead.map((d) => d.headers['bi-error-code']).sort()).to.deep.equal(expected);
    for (const d of dead) {
      expect(d.headers['bi-error-reason']).to.be.a('string').with.length.greaterThan(10);
      expect(d.headers['bi-source-topic']).to.equal(ctx.topics.bars);
      expect(Number(d.headers['bi-source-offset'])).to.be.at.least(0);
      expect(d.headers['bi-source-partition']).to.match(/^\d+$/);
      expect(d.value).to.not.equal(null);
    }
    // The original bytes travel unchanged.
    expect(dead.some((d) => d.value?.toString() === 'definitely not avro')).to.equal(true);

    expect(await countRows('market_bars')).to.equal(20);
    const m = worker.core.metrics;
    expect(m.rejectedTotal()).to.equal(expected.length);
    expect(m.rejected.get('INVALID_PRICE')).to.equal(3);
    expect(m.dependencyFailures).to.equal(0);
  });

  it('accepts a venue registered while the worker runs, without a restart', async () => {
    const worker = await ctx.startWorker();
    const t = minutesAgo(10);
    await ctx.publish([minuteBar(t, 0, { venue: 'Bitstamp', symbol: 'BTC/USD' })]);
    await ctx.waitForLag0();
    expect(worker.core.metrics.rejected.get('UNKNOWN_VENUE')).to.equal(1);

    await db()('venues').insert({ name: 'Bitstamp', quote_currencies: ['USD', 'EUR'] });
    try {
      // The catalog reloads at most every 5 s on an unknown name.
      await sleep(5_100);
      await ctx.publish([minuteBar(t, 1, { venue: 'bitstamp', symbol: 'btcusd' })]);
      await ctx.waitForLag0();
      const series = await db()('market_series').select('venue', 'symbol');
      expect(series).to.deep.equal([{ venue: 'Bitstamp', symbol: 'BTC/USD' }]);
    } finally {
      await truncateData();
      await db()('venues').where('name', 'Bitstamp').delete();
    }
  });
});
