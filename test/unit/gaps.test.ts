import { expect } from 'chai';
import { fillsRange, findGaps, gapId, remainingGaps } from '../../shared/domain/gaps';
import { parseTimeframe } from '../../shared/domain/timeframe';

const M = 60_000;
const m1 = parseTimeframe('1m');

describe('gap arithmetic', () => {
  it('finds a 7-minute hole as [t+1min, t+8min) with 7 missing bars', () => {
    const t = 1_000 * M;
    expect(findGaps(m1, t, [t + 8 * M, t + 9 * M])).to.deep.equal([{ fromMs: t + M, toMs: t + 8 * M, missingBars: 7 }]);
  });

  it('finds holes inside a batch and none for a contiguous or late stream', () => {
    const t = 1_000 * M;
    expect(findGaps(m1, null, [t, t + M, t + 4 * M])).to.deep.equal([
      { fromMs: t + 2 * M, toMs: t + 4 * M, missingBars: 2 },
    ]);
    expect(findGaps(m1, t, [t + M, t + 2 * M])).to.deep.equal([]);
    expect(findGaps(m1, t + 10 * M, [t, t + 3 * M])).to.deep.equal([]);
  });

  it('knows when a batch alone fills a range, so nothing needs reading back', () => {
    const t = 1_000 * M;
    const batch = [t - 3 * M, t + M, t + 2 * M, t + 3 * M];
    expect(fillsRange(m1, t, t + 3 * M, batch)).to.equal(true);
    expect(fillsRange(m1, t, t + 3 * M, [t + M, t + 3 * M])).to.equal(false);
    // The range's last bar is not in the batch (a claim left by another flush).
    expect(fillsRange(m1, t, t + 4 * M, batch)).to.equal(false);
    expect(fillsRange(m1, t, t + 2 * M, [t + 2 * M])).to.equal(false);
  });

  it('uses calendar months', () => {
    const month = parseTimeframe('1M');
    const jan = Date.parse('2026-01-01T00:00:00Z');
    const may = Date.parse('2026-05-01T00:00:00Z');
    expect(findGaps(month, jan, [may])).to.deep.equal([
      { fromMs: Date.parse('2026-02-01T00:00:00Z'), toMs: may, missingBars: 3 },
    ]);
  });

  it('shrinks, splits and fills a gap as bars arrive inside it', () => {
    const r = { fromMs: 10 * M, toMs: 20 * M };
    expect(remainingGaps(m1, r, [10 * M])).to.deep.equal([{ fromMs: 11 * M, toMs: 20 * M, missingBars: 9 }]);
    expect(remainingGaps(m1, r, [14 * M])).to.deep.equal([
      { fromMs: 10 * M, toMs: 14 * M, missingBars: 4 },
      { fromMs: 15 * M, toMs: 20 * M, missingBars: 5 },
    ]);
    const all = Array.from({ length: 10 }, (_, i) => (10 + i) * M);
    expect(remainingGaps(m1, r, all)).to.deep.equal([]);
  });

  it('gives a gap the same id whoever finds it', () => {
    expect(gapId(7, 60_000)).to.equal(gapId(7, 60_000));
    expect(gapId(7, 60_000)).to.not.equal(gapId(8, 60_000));
  });
});
