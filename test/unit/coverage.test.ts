import { expect } from 'chai';
import {
  coveredIntervals,
  seriesSpan,
  tallyGaps,
  verdictFromCounts,
  verdictOf,
  worstVerdict,
} from '../../shared/domain/coverage';
import { parseTimeframe } from '../../shared/domain/timeframe';

const M = 60_000;
const tf = parseTimeframe('1-Min');

describe('coverage: covered time and verdicts without reading bars', () => {
  it('judges a set of gaps: none is CLEAN, all filled is GAPS_FILLED, any still missing is GAPS_OPEN', () => {
    expect(verdictOf([])).to.equal('CLEAN');
    expect(verdictOf(['FILLED', 'FILLED'])).to.equal('GAPS_FILLED');
    for (const missing of ['OPEN', 'BACKFILL_REQUESTED', 'NO_DATA', 'UNFILLABLE'] as const) {
      expect(verdictOf(['FILLED', missing])).to.equal('GAPS_OPEN');
    }
    expect(verdictFromCounts(0, 0)).to.equal('CLEAN');
    expect(verdictFromCounts(3, 0)).to.equal('GAPS_FILLED');
    expect(verdictFromCounts(3, 1)).to.equal('GAPS_OPEN');
    expect(worstVerdict(['CLEAN', 'GAPS_FILLED'])).to.equal('GAPS_FILLED');
    expect(worstVerdict(['GAPS_OPEN', 'CLEAN'])).to.equal('GAPS_OPEN');
    expect(worstVerdict([])).to.equal('CLEAN');
  });

  it('covers a series span minus its missing gaps, clipped to the range; a filled gap is covered', () => {
    const span = seriesSpan(tf, 0, 99 * M);
    expect(span).to.deep.equal({ fromMs: 0, toMs: 100 * M });
    const gaps = [
      { fromMs: 10 * M, toMs: 20 * M, status: 'FILLED' as const },
      { fromMs: 30 * M, toMs: 35 * M, status: 'NO_DATA' as const },
      { fromMs: 90 * M, toMs: 95 * M, status: 'OPEN' as const },
    ];
    expect(coveredIntervals(tf, span, gaps, { fromMs: 0, toMs: 100 * M })).to.deep.equal([
      { fromMs: 0, toMs: 30 * M, bars: 30 },
      { fromMs: 35 * M, toMs: 90 * M, bars: 55 },
      { fromMs: 95 * M, toMs: 100 * M, bars: 5 },
    ]);
    expect(coveredIntervals(tf, span, gaps, { fromMs: 32 * M, toMs: 92 * M })).to.deep.equal([
      { fromMs: 35 * M, toMs: 90 * M, bars: 55 },
    ]);
    expect(coveredIntervals(tf, span, gaps, { fromMs: 200 * M, toMs: 300 * M })).to.deep.equal([]);
    expect(coveredIntervals(tf, seriesSpan(tf, null, null), [], { fromMs: 0, toMs: M })).to.deep.equal([]);
  });

  it('tallies gaps by status and kind and counts only the bars still missing', () => {
    const t = tallyGaps([
      { status: 'FILLED', kind: 'OFFLINE', missingBars: 10 },
      { status: 'NO_DATA', kind: 'OFFLINE', missingBars: 4 },
      { status: 'OPEN', kind: 'NO_ACTIVITY', missingBars: 3 },
    ]);
    expect(t.total).to.equal(3);
    expect(t.byStatus).to.include({ FILLED: 1, NO_DATA: 1, OPEN: 1, UNFILLABLE: 0 });
    expect(t.byKind).to.deep.equal({ OFFLINE: 2, NO_ACTIVITY: 1, UNKNOWN: 0 });
    expect(t.missingBars).to.equal(7);
    expect(t.verdict).to.equal('GAPS_OPEN');
  });
});
