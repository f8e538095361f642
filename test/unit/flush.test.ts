import { expect } from 'chai';
import { accept, planFlush } from '../../shared/domain/flush';
import type { CanonicalBar } from '../../shared/domain/bar';
import { nextOffsets } from '../../workers/ingest/core';

const base: CanonicalBar = {
  symbol: 'BTC/USDT',
  timeframe: '1-Min',
  provider: 'Quantower',
  venue: 'Binance',
  seriesKey: 'Quantower|Binance|BTC/USDT|1-Min',
  tf: { count: 1, unit: 'Min' },
  tsMs: 60_000,
  open: 1,
  high: 2,
  low: 1,
  close: 2,
  volume: 1,
  runId: null,
  source: 'LIVE',
  historyRequestId: null,
};
const ids = new Map([['Quantower|Binance|BTC/USDT|1-Min', 7]]);

describe('planFlush', () => {
  it('coalesces duplicates: the latest version wins, then the last to arrive', () => {
    const { rows } = planFlush(
      [
        accept({ ...base, close: 2 }, 1000),
        accept({ ...base, close: 1.5 }, 3000),
        accept({ ...base, close: 1.8 }, 2000),
        accept({ ...base, close: 1.9 }, 3000),
      ],
      ids,
    );
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ seriesId: 7, close: 1.9, versionMs: 3000 });
  });

  it('subscribes every run that sent a bar, with its first and last bar time', () => {
    const { rows, runSpans } = planFlush(
      [
        accept({ ...base, runId: 'a', tsMs: 120_000 }, 1),
        accept({ ...base, runId: 'b', tsMs: 60_000 }, 1),
        accept({ ...base, runId: 'a', tsMs: 60_000 }, 1),
        accept({ ...base, runId: null, tsMs: 180_000 }, 1),
      ],
      ids,
    );
    expect(rows).to.have.length(3);
    expect(runSpans).to.deep.equal([
      { runId: 'a', seriesId: 7, firstMs: 60_000, lastMs: 120_000 },
      { runId: 'b', seriesId: 7, firstMs: 60_000, lastMs: 60_000 },
    ]);
  });
});

describe('nextOffsets', () => {
  it('commits the offset after the highest message of each partition', () => {
    const m = (partition: number, offset: string) => ({ topic: 't', partition, offset });
    expect(nextOffsets([m(0, '5'), m(1, '9'), m(0, '7'), m(0, '6'), m(1, '10')])).to.deep.equal([
      { topic: 't', partition: 0, offset: '8' },
      { topic: 't', partition: 1, offset: '11' },
    ]);
  });
});
