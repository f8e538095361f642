import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { db, truncateData } from '../support/stack';

const ROOT = path.resolve(__dirname, '../..');
const M = 60_000;

describe('coverage report for the analyst', () => {
  beforeEach(truncateData);

  it('prints covered intervals, gaps with kind and status, and offline periods of one series', async () => {
    const t = Date.parse('2026-11-20T10:00:00Z');
    const [series] = await db()('market_series')
      .insert({
        symbol: 'BTC/USDT',
        timeframe: '1-Min',
        provider: 'Quantower',
        venue: 'Binance',
        start_utc: new Date(t),
        end_utc: new Date(t + 19 * M),
      })
      .returning<Array<{ id: string }>>('id');
    const present = [0, 1, 2, 3, 4, 12, 13, 14, 15, 16, 17, 18, 19];
    await db()('market_bars').insert(
      present.map((i) => ({
        series_id: series!.id,
        ts_utc: new Date(t + i * M),
        open: 1,
        high: 1,
        low: 1,
        close: 1,
        volume: 1,
        version_ts: new Date(),
      })),
    );
    await db()('data_gaps').insert({
      gap_id: `gap-${series!.id}-${t + 5 * M}`,
      series_id: series!.id,
      from_utc: new Date(t + 5 * M),
      to_utc: new Date(t + 12 * M),
      missing_bars: 7,
      kind: 'OFFLINE',
      status: 'UNFILLABLE',
    });
    await db()('connection_sessions').insert([
      {
        provider: 'Quantower',
        venue: 'Binance',
        status: 'CONNECTED',
        from_utc: new Date(t - 60 * M),
        to_utc: new Date(t + 4 * M),
      },
      {
        provider: 'Quantower',
        venue: 'Binance',
        status: 'DISCONNECTED',
        from_utc: new Date(t + 4 * M),
        to_utc: new Date(t + 11 * M),
      },
    ]);

    const out = execFileSync(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      ['scripts/coverage.ts', '--series', 'Quantower|Binance|BTC/USDT|1-Min', '--json'],
      {
        cwd: ROOT,
        env: process.env,
      },
    ).toString();
    const report = JSON.parse(out);
    expect(report.bars).to.equal(13);
    expect(report.covered).to.deep.equal([
      { from: '2026-11-20T10:00:00Z', to: '2026-11-20T10:05:00Z', bars: 5 },
      { from: '2026-11-20T10:12:00Z', to: '2026-11-20T10:20:00Z', bars: 8 },
    ]);
    expect(report.gaps).to.have.length(1);
    expect(report.gaps[0]).to.include({
      from_utc: '2026-11-20T10:05:00Z',
      to_utc: '2026-11-20T10:12:00Z',
      missing_bars: 7,
      kind: 'OFFLINE',
      status: 'UNFILLABLE',
      remaining_bars: 7,
      filled_at: null,
    });
    expect(report.gaps[0].remaining).to.deep.equal([
      { from: '2026-11-20T10:05:00Z', to: '2026-11-20T10:12:00Z', missing_bars: 7 },
    ]);
    expect(report.offline).to.deep.equal([{ from: '2026-11-20T10:04:00Z', to: '2026-11-20T10:11:00Z' }]);
  });
});
