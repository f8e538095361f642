import { expect } from 'chai';
import { HistoryLookup, HistoryResponder, publishConnectionStatus } from '../../exporter/history';
import { silentLogger } from '../../shared/runtime/log';
import type { WireBar } from '../../shared/domain/bar';
import { db, minuteBar, minutesAgo, sleep, TestContext, truncateData, waitFor, countRows } from '../support/stack';

const M = 60_000;
type Gap = { status: string; kind: string; symbol: string; venue: string };
const gaps = async (): Promise<Gap[]> =>
  db()('data_gaps as g')
    .join('market_series as s', 's.id', 'g.series_id')
    .orderBy(['s.venue', 'g.from_utc'])
    .select('g.status', 'g.kind', 's.symbol', 's.venue');

interface GapEvent {
  gap_id: string;
  version: number;
  status: string;
  from_utc: number;
  to_utc: number;
  missing_bars: number;
  remaining_bars: number | null;
  filled_by: string | null;
}

/** Every gap's statuses as its events carry them, in the order they were published. */
function sequences(events: GapEvent[]): Map<string, GapEvent[]> {
  const out = new Map<string, GapEvent[]>();
  for (const e of events) out.set(e.gap_id, [...(out.get(e.gap_id) ?? []), e]);
  return out;
}

/** Each gap's events: versions rising from 1 (OPEN), and the statuses it went through. */
function statusPath(events: GapEvent[]): string[] {
  expect(events[0]).to.include({ version: 1, status: 'OPEN' });
  events.forEach((e, i) => i > 0 && expect(e.version).to.be.greaterThan(events[i - 1]!.version));
  return events.map((e) => e.status).filter((st, i, all) => st !== all[i - 1]);
}

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

  async function gapEvents(expected: number): Promise<GapEvent[]> {
    await waitFor(async () => (await ctx.messagesOn(ctx.topics.gaps)) >= expected, 30_000, `${expected} gap events`);
    const all = await ctx.readAll(ctx.topics.gaps, await ctx.messagesOn(ctx.topics.gaps), 30_000);
    return Promise.all(all.map(async (m) => (await ctx.codec.decode(m.value!)) as GapEvent));
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
    // Every gap's events start with OPEN (version 1) and go up from there.
    const all = sequences(await gapEvents(4));
    expect(all.size).to.equal(3);
    for (const evs of all.values()) statusPath(evs);
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
      const row = await db()('data_gaps').first('missing_bars', 'remaining_bars', 'filled_by', 'filled_at');
      expect(row).to.include({ missing_bars: 7, remaining_bars: 0, filled_by: 'HISTORY' });
      const events = await gapEvents(3);
      // Every change is an event (the history bars may be stored over several flushes).
      expect(statusPath(events)).to.deep.equal(['OPEN', 'BACKFILL_REQUESTED', 'FILLED']);
      expect(events[events.length - 1]).to.include({ missing_bars: 7, remaining_bars: 0, filled_by: 'HISTORY' });
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

  it('answered while 50,000 live messages are queued ahead of its history bars: every outage gap ends FILLED, detected range and count intact, the fill recorded', async function () {
    this.timeout(420_000);
    const t = minutesAgo(200);
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
    // A 90-minute exporter outage: bars 1..90 of every series are missing.
    await status('Binance', 'CONNECTED', t - 30 * M);
    await status('Binance', 'DISCONNECTED', t + M);
    await status('Binance', 'CONNECTED', t + 91 * M);
    const first = await ctx.startWorker();
    await ctx.startContinuity({ BI_BACKFILL_RETRY_MS: '600000', BI_BACKFILL_SETTLE_MS: '500' });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const responder = await startResponder(async (req) => {
      await gate;
      const bars: WireBar[] = [];
      for (let ts = req.from_utc; ts < req.to_utc; ts += M)
        bars.push(minuteBar(t, (ts - t) / M, { symbol: req.series.symbol.replace('/', '') }));
      return bars;
    });
    try {
      await ctx.publish(symbols.flatMap((symbol) => [minuteBar(t, 0, { symbol }), minuteBar(t, 91, { symbol })]));
      // The responder holds its first request at the gate (and the requests behind it).
      await waitFor(
        async () => (await gaps()).filter((g) => g.status === 'BACKFILL_REQUESTED').length === 3,
        60_000,
        'three history requests',
      );
      // The ingest side falls behind: 50,000 live messages are queued before the history bars.
      await first.stop();
      const backlogStart = minutesAgo(6000);
      const backlog: WireBar[] = [];
      for (let s = 0; s < 10; s++)
        for (let i = 0; i < 5000; i++) backlog.push(minuteBar(backlogStart, i, { symbol: `BK${s}USDT` }));
      const publisher = await ctx.publisher();
      for (let i = 0; i < backlog.length; i += 5000) await publisher.publish(backlog.slice(i, i + 5000));
      open();
      await waitFor(
        async () => (await countRows('data_gaps', (q) => q.whereNotNull('response_at'))) === 3,
        60_000,
        'three answers recorded',
      );
      // The old fixed settle time (500 ms here) would have made them NO_DATA by now.
      await sleep(3_000);
      expect((await gaps()).map((g) => g.status)).to.deep.equal([
        'BACKFILL_REQUESTED',
        'BACKFILL_REQUESTED',
        'BACKFILL_REQUESTED',
      ]);
      expect(await countRows('data_gaps', (q) => q.whereNotNull('caught_up_at'))).to.equal(0);

      await ctx.startWorker();
      await waitFor(
        async () => (await gaps()).every((g) => g.status === 'FILLED'),
        180_000,
        'every outage gap FILLED once the backlog is consumed',
      );
      const rows = await db()('data_gaps').select(
        'from_utc',
        'to_utc',
        'missing_bars',
        'remaining_bars',
        'kind',
        'filled_at',
        'filled_by',
      );
      expect(rows).to.have.length(3);
      for (const r of rows) {
        expect([r.from_utc.getTime(), r.to_utc.getTime(), r.missing_bars]).to.deep.equal([t + M, t + 91 * M, 90]);
        expect(r).to.include({ remaining_bars: 0, kind: 'OFFLINE', filled_by: 'HISTORY' });
        expect(r.filled_at).to.be.an.instanceOf(Date);
      }
      // A gap settles as soon as its own bars are stored, which can be before the backlog on other
      // partitions is: count the bars once everything sent has been consumed.
      await ctx.waitForLag0(180_000);
      expect(await countRows('market_bars')).to.equal(3 * 92 + 50_000);
      const events = sequences(await gapEvents(9));
      expect(events.size).to.equal(3);
      for (const evs of events.values()) {
        expect(statusPath(evs)).to.deep.equal(['OPEN', 'BACKFILL_REQUESTED', 'FILLED']);
        expect(evs.every((e) => e.from_utc === t + M && e.to_utc === t + 91 * M && e.missing_bars === 90)).to.equal(
          true,
        );
      }
    } finally {
      await responder.stop();
    }
  });

  it('a NO_DATA or UNFILLABLE gap whose bars arrive later becomes FILLED, with its event', async () => {
    const t = minutesAgo(60);
    await ctx.startWorker();
    await ctx.startContinuity({ BI_BACKFILL_RETRY_MS: '300', BI_BACKFILL_MAX_ATTEMPTS: '2' });
    const responder = await startResponder((req) => (req.series.venue === 'Binance' ? [] : null));
    const coinbase = { venue: 'Coinbase', symbol: 'BTC-USD' };
    try {
      await ctx.publish([minuteBar(t, 0), minuteBar(t, 8), minuteBar(t, 0, coinbase), minuteBar(t, 8, coinbase)]);
      await waitFor(
        async () => (await gaps()).map((g) => g.status).join() === 'NO_DATA,UNFILLABLE',
        60_000,
        'NO_DATA and UNFILLABLE',
      );
      // The bars turn up after all (a late live delivery, or history found later).
      await ctx.publish([1, 2, 3, 4, 5, 6, 7].flatMap((i) => [minuteBar(t, i), minuteBar(t, i, coinbase)]));
      await waitFor(async () => (await gaps()).every((g) => g.status === 'FILLED'), 30_000, 'both FILLED');
      const rows = await db()('data_gaps').select('missing_bars', 'remaining_bars', 'filled_by');
      expect(rows.map((r) => [r.missing_bars, r.remaining_bars, r.filled_by])).to.deep.equal([
        [7, 0, 'LIVE'],
        [7, 0, 'LIVE'],
      ]);
      const events = sequences(await gapEvents(8));
      expect([...events.values()].map(statusPath).sort()).to.deep.equal([
        ['OPEN', 'BACKFILL_REQUESTED', 'NO_DATA', 'FILLED'],
        ['OPEN', 'BACKFILL_REQUESTED', 'UNFILLABLE', 'FILLED'],
      ]);
    } finally {
      await responder.stop().catch(() => undefined);
    }
  });
});
