import { expect } from 'chai';
import { readStatements, Statement } from '../../shared/adapters/read-model';
import { createKnex } from '../../shared/adapters/postgres';
import { baseConnections, db, truncateData } from '../support/stack';
import { CoverageFixture, insertCoverageFixture, T0 } from '../support/coverage-fixture';
import { startTestReadApi } from '../support/read-api';

const M = 60_000;
const iso = (minutes: number): string => new Date(T0 + minutes * M).toISOString().replace('.000Z', 'Z');

describe('read API: series, coverage, run readiness and gaps as JSON', function () {
  this.timeout(60_000);
  let api: Awaited<ReturnType<typeof startTestReadApi>>;
  let fx: CoverageFixture;
  const get = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(new URL(path, api.url));
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    await truncateData();
    fx = await insertCoverageFixture();
    api = await startTestReadApi();
  });
  after(async () => api?.stop());

  it('lists series with their gap counts, exporter status and state, filtered by venue', async () => {
    const all = await get('/api/series');
    expect(all.status).to.equal(200);
    const series = all.body.series as Array<Record<string, unknown>>;
    expect(all.body.total).to.equal(3);
    expect(series.map((s) => [s.key, s.verdict, s.exporter])).to.deep.equal([
      ['Quantower|Binance|BTC/USDT|1-Min', 'GAPS_OPEN', 'CONNECTED'],
      ['Quantower|CME|ESZ6|5-Min', 'CLEAN', 'UNKNOWN'],
      ['Quantower|Coinbase|BTC/USD|1-Min', 'GAPS_OPEN', 'UNKNOWN'],
    ]);
    expect(series[0]!.gaps).to.deep.equal({
      total: 3,
      by_status: { OPEN: 1, BACKFILL_REQUESTED: 0, FILLED: 1, NO_DATA: 1, UNFILLABLE: 0 },
      by_kind: { OFFLINE: 2, NO_ACTIVITY: 1, UNKNOWN: 0 },
      missing_bars: 15,
    });
    expect(series[0]).to.include({ first_bar: iso(0), last_bar: iso(119), runs: 3 });

    const coinbase = await get('/api/series?venue=coinbase&timeframe=1-Min');
    expect((coinbase.body.series as Array<{ id: number }>).map((s) => s.id)).to.deep.equal([fx.seriesIds.btcCoinbase]);
    const page2 = await get('/api/series?limit=1&offset=1');
    expect(page2.body).to.include({ total: 3, limit: 1, offset: 1 });
    expect((page2.body.series as Array<{ id: number }>)[0]!.id).to.equal(fx.seriesIds.esCme);
  });

  it("gives one series' covered intervals, gaps with kind and status, and offline periods, over a range", async () => {
    const { status, body } = await get(`/api/series/${fx.seriesIds.btcBinance}/coverage`);
    expect(status).to.equal(200);
    expect(body.range).to.deep.equal({ from: iso(0), to: iso(120) });
    // The FILLED gap is covered again; NO_DATA and OPEN are holes.
    expect(body.covered).to.deep.equal([
      { from: iso(0), to: iso(50), bars: 50 },
      { from: iso(60), to: iso(80), bars: 20 },
      { from: iso(85), to: iso(120), bars: 35 },
    ]);
    const gaps = body.gaps as Array<Record<string, unknown>>;
    expect(gaps.map((g) => [g.from, g.to, g.missing_bars, g.kind, g.status])).to.deep.equal([
      [iso(20), iso(30), 10, 'OFFLINE', 'FILLED'],
      [iso(50), iso(60), 10, 'OFFLINE', 'NO_DATA'],
      [iso(80), iso(85), 5, 'NO_ACTIVITY', 'OPEN'],
    ]);
    expect(body.offline).to.deep.equal([{ from: iso(18), to: iso(62), ongoing: false }]);

    const part = await get(`/api/series/${fx.seriesIds.btcBinance}/coverage?from=${iso(55)}&to=2026-11-20T11:22`);
    expect(part.body.range).to.deep.equal({ from: iso(55), to: iso(82) });
    expect((part.body.gaps as unknown[]).length).to.equal(2);
    expect(part.body.covered).to.deep.equal([{ from: iso(60), to: iso(80), bars: 20 }]);
    expect(part.body.offline).to.deep.equal([{ from: iso(55), to: iso(62), ongoing: false }]);
  });

  it("judges a strategy run's readiness over the window it was active: clean, gaps filled, gaps open", async () => {
    const clean = await get('/api/runs/run-clean/readiness');
    expect(clean.body.verdict).to.equal('CLEAN');
    expect(clean.body.window).to.deep.equal({ from: iso(0), to: iso(120) });
    expect((clean.body.series as Array<{ series: { key: string } }>).map((s) => s.series.key)).to.deep.equal([
      'Quantower|Binance|BTC/USDT|1-Min',
      'Quantower|CME|ESZ6|5-Min',
    ]);

    const filled = await get('/api/runs/run-filled/readiness');
    expect(filled.body.verdict).to.equal('GAPS_FILLED');
    const lane = (filled.body.series as Array<Record<string, unknown>>)[0]!;
    expect(lane.range).to.deep.equal({ from: iso(0), to: iso(41) });
    expect((lane.gaps as Array<{ status: string }>).map((g) => g.status)).to.deep.equal(['FILLED']);
    // The outage began inside this run's window: its band is there, cut at the window's end.
    expect(lane.offline).to.deep.equal([{ from: iso(18), to: iso(41), ongoing: false }]);

    const open = await get('/api/runs/run-open/readiness');
    expect(open.body.verdict).to.equal('GAPS_OPEN');
    expect(open.body.summary).to.deep.include({
      total: 4,
      by_kind: { OFFLINE: 2, NO_ACTIVITY: 1, UNKNOWN: 1 },
      missing_bars: 20,
    });

    const runs = await get('/api/runs');
    expect(
      (runs.body.runs as Array<Record<string, unknown>>).map((r) => [r.id, r.verdict, r.series]).sort(),
    ).to.deep.equal([
      ['run-clean', 'CLEAN', 2],
      ['run-filled', 'GAPS_FILLED', 1],
      ['run-open', 'GAPS_OPEN', 2],
    ]);
  });

  it('lists gaps across all series filtered by kind, status and time', async () => {
    const offline = await get('/api/gaps?kind=OFFLINE');
    expect(offline.body.total).to.equal(2);
    const both = await get('/api/gaps?status=OPEN&status=BACKFILL_REQUESTED');
    expect((both.body.gaps as Array<Record<string, unknown>>).map((g) => [g.kind, g.status])).to.deep.equal([
      ['NO_ACTIVITY', 'OPEN'],
      ['UNKNOWN', 'BACKFILL_REQUESTED'],
    ]);
    const window = await get(`/api/gaps?from=${iso(44)}&to=${iso(81)}`);
    expect((window.body.gaps as Array<{ from: string }>).map((g) => g.from)).to.deep.equal([iso(80), iso(50), iso(40)]);
    const one = await get(`/api/gaps?series_id=${fx.seriesIds.btcCoinbase}`);
    expect((one.body.gaps as Array<{ series: unknown }>)[0]!.series).to.deep.equal({
      provider: 'Quantower',
      venue: 'Coinbase',
      symbol: 'BTC/USD',
      timeframe: '1-Min',
    });
  });

  it('answers a bad parameter with 400 and a reason, an unknown series or run with 404', async () => {
    for (const path of [
      '/api/gaps?kind=SOMETIMES',
      '/api/gaps?kinds=OFFLINE',
      '/api/series?limit=0',
      '/api/series/abc/coverage',
      `/api/series/${fx.seriesIds.btcBinance}/coverage?from=yesterday`,
      `/api/series/${fx.seriesIds.btcBinance}/coverage?from=${iso(10)}&to=${iso(5)}`,
    ]) {
      const res = await get(path);
      expect(res.status, path).to.equal(400);
      expect(res.body.code, path).to.equal('BAD_REQUEST');
      expect(String(res.body.message).length, path).to.be.greaterThan(0);
    }
    expect((await get('/api/series/999999/coverage')).body).to.include({ code: 'SERIES_NOT_FOUND' });
    expect((await get('/api/runs/nope/readiness')).status).to.equal(404);
    expect((await get('/healthz')).body).to.deep.equal({ healthy: true });
  });

  it('never scans market_bars: EXPLAIN of every statement, run as the worker role', async () => {
    const worker = createKnex(baseConnections.pgWorker, { min: 0, max: 1 });
    const range = { fromMs: T0, toMs: T0 + 120 * M };
    const statements: Array<[string, Statement]> = [
      ['seriesList', readStatements.seriesList({ venue: 'Binance', limit: 100, offset: 0 })],
      ['seriesList (all)', readStatements.seriesList({ limit: 10_000, offset: 0 })],
      ['seriesCount', readStatements.seriesCount({ symbol: 'BTC/USDT', limit: 1, offset: 0 })],
      ['seriesById', readStatements.seriesById(fx.seriesIds.btcBinance)],
      ['gapsOfSeries', readStatements.gapsOfSeries(fx.seriesIds.btcBinance, range)],
      ['offline', readStatements.offline([{ provider: 'Quantower', venue: 'Binance' }], range)],
      ['runsList', readStatements.runsList(100, 0)],
      ['runsCount', readStatements.runsCount()],
      ['runById', readStatements.runById('run-open')],
      ['runSubscriptions', readStatements.runSubscriptions('run-open')],
      ['runGaps', readStatements.runGaps('run-open')],
      [
        'gapsList',
        readStatements.gapsList({
          kind: ['OFFLINE'],
          status: ['OPEN'],
          fromMs: T0,
          toMs: T0 + M,
          limit: 10,
          offset: 0,
        }),
      ],
      ['gapsCount', readStatements.gapsCount({ venue: 'Binance', limit: 10, offset: 0 })],
    ];
    try {
      for (const [name, s] of statements) {
        const { rows } = await worker.raw<{ rows: Array<{ 'QUERY PLAN': unknown }> }>(
          `EXPLAIN (FORMAT JSON) ${s.sql}`,
          s.bindings as never,
        );
        const relations = relationsIn(rows[0]!['QUERY PLAN']);
        expect(relations, `${name} reads ${[...relations].join(', ')}`).to.not.include('market_bars');
        expect(relations.size, `${name} reads some table`).to.be.greaterThan(0);
      }
    } finally {
      await worker.destroy();
    }
    // The fixture stores no bar at all, and every answer above came out right.
    expect(Number((await db()('market_bars').count<{ c: string }[]>('* as c'))[0]!.c)).to.equal(0);
  });
});

/** Every table a JSON plan reads (its "Relation Name"s, at any depth). */
function relationsIn(plan: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(plan)) for (const p of plan) relationsIn(p, out);
  else if (plan && typeof plan === 'object') {
    for (const [k, v] of Object.entries(plan)) {
      if (k === 'Relation Name' && typeof v === 'string') out.add(v);
      else relationsIn(v, out);
    }
  }
  return out;
}
