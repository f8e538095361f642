import { expect } from 'chai';
import { HistoryLookup, HistoryResponder, publishConnectionStatus } from '../../exporter/history';
import { silentLogger } from '../../shared/runtime/log';
import { db, minuteBar, minutesAgo, TestContext, truncateData, waitFor, countRows } from '../support/stack';

const M = 60_000;
type Gap = { status: string; kind: string; symbol: string; venue: string };
const gaps = async (): Promise<Gap[]> =>
  db()('data_gaps as g')
    .join('market_series as s', 's.id', 'g.series_id')
    .orderBy(['s.venue', 'g.from_utc'])
    .select('g.status', 'g.kind', 's.symbol', 's.venue');

describe('continuity: classification and backfill', function () {
  this.timeout(180_000);
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  /** The reference exporter's history answers, started against this test's topics. */
  async function startResponder(lookup: HistoryLookup): Promise<HistoryResponder> {
    const producer = await ctx.sharedProducer();
    const responder = new HistoryResponder(
      ctx.kafka,
      producer,
      ctx.codec,
      ctx.topics,
      `${ctx.prefix}exporter`,
      lookup,
      silentLogger,
    );
    await responder.start('reference-exporter');
    return responder;
  }

  async function status(venue: string, s: 'CONNECTED' | 'DISCONNECTED', tsMs: number): Promise<void> {
    const producer = await ctx.sharedProducer();
    await publishConnectionStatus(producer, ctx.codec, ctx.topics.connectionStatus, {
      provider: 'Quantower',
      venue,
      status: s,
      ts_utc: tsMs,
    });
  }

  it('the same hole is OFFLINE while the exporter was disconnected, NO_ACTIVITY while connected, and reclassified by a late status event', async () => {
    const t = minutesAgo(60);
    await ctx.startContinuity({ BI_BACKFILL_KINDS: 'OFFLINE', BI_BACKFILL_RETRY_MS: '600000' });
    await status('Binance', 'CONNECTED', t - 30 * M);
    await status('Binance', 'DISCONNECTED', t + 2 * M);
    await status('Binance', 'CONNECTED', t + 6 * M);
    await status('Coinbase', 'CONNECTED', t - 30 * M);
    await waitFor(async () => (await countRows('connection_sessions')) === 4, 20_000, 'sessions');

    await ctx.startWorker();
    const hole = (venue: string, symbol: string) => [
      minuteBar(t, 0, { venue, symbol }),
      minuteBar(t, 8, { venue, symbol }),
    ];
    await ctx.publish([...hole('Binance', 'BTCUSDT'), ...hole('Coinbase', 'BTC-USD'), ...hole('Kraken', 'XBTUSD')]);
    await ctx.waitForLag0();
    await waitFor(async () => (await gaps()).length === 3, 20_000, '3 gaps');
    expect((await gaps()).map((g) => [g.venue, g.kind])).to.deep.equal([
      ['Binance', 'OFFLINE'],
      ['Coinbase', 'NO_ACTIVITY'],
      ['Kraken', 'UNKNOWN'],
    ]);

    // Kraken's disconnection is reported after its gap was detected: the gap is reclassified.
    await status('Kraken', 'DISCONNECTED', t - 5 * M);
    await waitFor(async () => (await gaps())[2]!.kind === 'OFFLINE', 20_000, 'Kraken gap reclassified');
    const events = await ctx.readAll(ctx.topics.gaps, 4, 20_000);
    const kinds = await Promise.all(
      events.map(async (e) => (await ctx.codec.decode(e.value!)) as { kind: string; series: { venue: string } }),
    );
    // One event per change (the OFFLINE gap then also changes status, as a backfill is requested).
    const kraken = kinds.filter((e) => e.series.venue === 'Kraken').map((e) => e.kind);
    expect(kraken.filter((k, i) => k !== kraken[i - 1])).to.deep.equal(['UNKNOWN', 'OFFLINE']);
  });

  it('the full loop: gap -> HistoryRequest -> the exporter backfills -> FILLED, with the status events in order', async () => {
    const t = minutesAgo(60);
    await ctx.startWorker();
    await ctx.startContinuity({ BI_BACKFILL_RETRY_MS: '600000' });
    const requests: string[] = [];
    const responder = await startResponder((req) => {
      requests.push(req.request_id);
      const bars = [];
      for (let ts = req.from_utc; ts < req.to_utc; ts += M) bars.push(minuteBar(t, (ts - t) / M));
      return bars;
    });
    try {
      await ctx.publish([minuteBar(t, 0), minuteBar(t, 8)]);
      await waitFor(async () => (await gaps())[0]?.status === 'FILLED', 60_000, 'the gap to be FILLED');
      expect(requests).to.have.length(1);
      const bars = await db()('market_bars').orderBy('ts_utc').select('source');
      expect(bars).to.have.length(9);
      expect(bars.filter((b) => b.source === 'HISTORY')).to.have.length(7);
      const events = await ctx.readAll(ctx.topics.gaps, 3, 20_000);
      const statuses = await Promise.all(
        events.map(async (e) => ((await ctx.codec.decode(e.value!)) as { status: string }).status),
      );
      expect(statuses).to.deep.equal(['OPEN', 'BACKFILL_REQUESTED', 'FILLED']);
    } finally {
      await responder.stop();
    }
  });

  it('an exporter with no history for the range makes the gap NO_DATA; no answer at all makes it UNFILLABLE', async () => {
    const t = minutesAgo(60);
    await ctx.startWorker();
    await ctx.startContinuity({ BI_BACKFILL_RETRY_MS: '300', BI_BACKFILL_MAX_ATTEMPTS: '2' });
    // Answers for Binance only, and with nothing: its history has the same hole.
    const responder = await startResponder((req) => (req.series.venue === 'Binance' ? [] : null));
    try {
      await ctx.publish([
        minuteBar(t, 0),
        minuteBar(t, 8),
        minuteBar(t, 0, { venue: 'Coinbase', symbol: 'BTC-USD' }),
        minuteBar(t, 8, { venue: 'Coinbase', symbol: 'BTC-USD' }),
      ]);
      await waitFor(
        async () => (await gaps()).map((g) => g.status).join() === 'NO_DATA,UNFILLABLE',
        60_000,
        'NO_DATA and UNFILLABLE',
      );
    } finally {
      await responder.stop().catch(() => undefined);
    }
  });
});
