import { expect } from 'chai';
import { createKnex } from '../../shared/adapters/postgres';
import { SeriesDirectory, writeFlush } from '../../shared/adapters/bar-store';
import { seriesKey } from '../../shared/domain/series';
import type { BarRow } from '../../shared/domain/flush';
import { baseConnections, db, truncateData } from '../support/stack';

describe('bar store: the flush statement', () => {
  beforeEach(truncateData);

  // The statement binds whole columns as array literals it builds itself (not node-postgres'
  // per-element escaping): every value must come back from PostgreSQL exactly as sent.
  it('stores awkward run ids and extreme prices exactly as sent', async () => {
    const knex = createKnex(baseConnections.pgWorker);
    try {
      const identity = { symbol: 'BTC/USDT', timeframe: '1-Min', provider: 'Quantower', venue: 'Binance' };
      const ids = await new SeriesDirectory(knex).resolve([identity]);
      const seriesId = ids.get(seriesKey(identity))!;
      const prices = [0.1 + 0.2, 1e-300, 1.7976931348623157e308, 123456789.12345679, 5e-324, 0];
      const rows: BarRow[] = prices.map((p, i) => ({
        seriesId,
        tsMs: Date.UTC(2026, 0, 1, 0, i),
        open: p,
        high: p,
        low: p,
        close: p,
        volume: i === 0 ? 1e21 : i,
        source: i % 2 === 0 ? 'LIVE' : 'HISTORY',
        versionMs: 1_790_000_000_000 + i,
      }));
      const runIds = ['quote"inside', 'back\\slash', 'comma,and{braces}', ' spaced ', 'NULL', 'ünï©ødé 🚀'];
      const spans = runIds.map((runId) => ({ runId, seriesId, firstMs: rows[0]!.tsMs, lastMs: rows[5]!.tsMs }));

      const result = await writeFlush(knex, rows, spans);

      expect(result).to.deep.equal({ inserted: 6, corrected: 0 });
      const stored = await db()('market_bars')
        .select('open', 'close', 'volume', 'source', db().raw('(extract(epoch from version_ts) * 1000)::bigint AS v'))
        .orderBy('ts_utc');
      expect(stored.map((r: { open: number }) => r.open)).to.deep.equal(prices);
      expect(stored.map((r: { close: number }) => r.close)).to.deep.equal(prices);
      expect(stored.map((r: { volume: number }) => r.volume)).to.deep.equal([1e21, 1, 2, 3, 4, 5]);
      expect(stored.map((r: { source: string }) => r.source)).to.deep.equal(rows.map((r) => r.source));
      expect(stored.map((r: { v: string }) => Number(r.v))).to.deep.equal(rows.map((r) => r.versionMs));
      const subscribed = await db()('run_subscriptions').select('run_id');
      expect(subscribed.map((r: { run_id: string }) => r.run_id).sort()).to.deep.equal([...runIds].sort());
    } finally {
      await knex.destroy();
    }
  });

  it('writes 100,000 bars in one statement: arrays bind as one parameter per column, far from the 65,535 limit', async () => {
    const knex = createKnex(baseConnections.pgWorker);
    try {
      const identity = { symbol: 'ETH/USDT', timeframe: '1-Min', provider: 'Quantower', venue: 'Binance' };
      const seriesId = (await new SeriesDirectory(knex).resolve([identity])).get(seriesKey(identity))!;
      const start = Date.UTC(2025, 0, 1);
      const rows: BarRow[] = Array.from({ length: 100_000 }, (_, i) => ({
        seriesId,
        tsMs: start + i * 60_000,
        open: 1,
        high: 2,
        low: 1,
        close: 1.5,
        volume: i,
        source: 'LIVE',
        versionMs: start,
      }));
      const result = await writeFlush(knex, rows, [
        { runId: 'big', seriesId, firstMs: start, lastMs: rows.at(-1)!.tsMs },
      ]);
      expect(result).to.deep.equal({ inserted: 100_000, corrected: 0 });
      const [count] = await db()('market_bars').where('series_id', seriesId).count<{ c: string }[]>('* as c');
      expect(Number(count!.c)).to.equal(100_000);
      const [series] = await db()('market_series')
        .where('id', seriesId)
        .select(
          db().raw('(extract(epoch from start_utc) * 1000)::bigint AS first'),
          db().raw('(extract(epoch from end_utc) * 1000)::bigint AS last'),
        );
      expect([Number(series.first), Number(series.last)]).to.deep.equal([start, rows.at(-1)!.tsMs]);
    } finally {
      await knex.destroy();
    }
  });
});
