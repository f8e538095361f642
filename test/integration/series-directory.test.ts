import { expect } from 'chai';
import { createKnex } from '../../shared/adapters/postgres';
import { SeriesDirectory } from '../../shared/adapters/bar-store';
import { seriesKey } from '../../shared/domain/series';
import { baseConnections, db, truncateData } from '../support/stack';

describe('series directory', () => {
  beforeEach(truncateData);

  it('gives two workers creating the same new series at once one row and one id', async () => {
    const series = Array.from({ length: 50 }, (_, i) => ({
      symbol: `S${i}/USDT`,
      timeframe: '1-Min',
      provider: 'Quantower',
      venue: 'Binance',
    }));
    const pools = [createKnex(baseConnections.pgWorker), createKnex(baseConnections.pgWorker)];
    try {
      const [a, b] = await Promise.all(pools.map((k) => new SeriesDirectory(k).resolve(series)));
      for (const s of series) {
        expect(a!.get(seriesKey(s)))
          .to.be.a('number')
          .and.equal(b!.get(seriesKey(s)));
      }
      const rows = await db()('market_series').count<{ c: string }[]>('* as c');
      expect(Number(rows[0]?.c)).to.equal(50);
    } finally {
      await Promise.all(pools.map((k) => k.destroy()));
    }
  });
});
