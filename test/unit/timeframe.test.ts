import { expect } from 'chai';
import vectors from '../vectors/normalization.json';
import {
  addBars,
  alignDown,
  barsBetween,
  isAligned,
  normalizeTimeframe,
  parseTimeframe,
} from '../../shared/domain/timeframe';
import { RejectError } from '../../shared/domain/errors';

const at = (iso: string): number => Date.parse(iso);

describe('timeframe normalization (test vectors)', () => {
  for (const [raw, canonical] of vectors.timeframes.canonical) {
    it(`${JSON.stringify(raw)} -> ${canonical}`, () => expect(normalizeTimeframe(raw!)).to.equal(canonical));
  }
  for (const [raw, code] of vectors.timeframes.rejected) {
    it(`${JSON.stringify(raw)} is rejected with ${code}`, () => {
      expect(() => normalizeTimeframe(raw!))
        .to.throw(RejectError)
        .with.property('code', code);
    });
  }
});

describe('timeframe arithmetic', () => {
  it('aligns minutes, hours and days to the epoch', () => {
    expect(alignDown(parseTimeframe('5m'), at('2026-11-24T10:07:31Z'))).to.equal(at('2026-11-24T10:05:00Z'));
    expect(alignDown(parseTimeframe('4h'), at('2026-11-24T10:07:31Z'))).to.equal(at('2026-11-24T08:00:00Z'));
    expect(isAligned(parseTimeframe('1d'), at('2026-11-24T00:00:00Z'))).to.equal(true);
    expect(isAligned(parseTimeframe('1m'), at('2026-11-24T00:00:17Z'))).to.equal(false);
  });

  it('opens weeks on Monday 00:00 UTC', () => {
    // 2026-11-26 is a Thursday; its week opened on Monday the 23rd.
    expect(alignDown(parseTimeframe('1w'), at('2026-11-26T13:00:00Z'))).to.equal(at('2026-11-23T00:00:00Z'));
    expect(addBars(parseTimeframe('1w'), at('2026-11-23T00:00:00Z'), 2)).to.equal(at('2026-12-07T00:00:00Z'));
  });

  it('uses calendar months, whatever their length', () => {
    const month = parseTimeframe('1M');
    expect(alignDown(month, at('2026-02-17T05:00:00Z'))).to.equal(at('2026-02-01T00:00:00Z'));
    expect(addBars(month, at('2026-01-01T00:00:00Z'), 1)).to.equal(at('2026-02-01T00:00:00Z'));
    expect(addBars(month, at('2026-11-01T00:00:00Z'), 3)).to.equal(at('2027-02-01T00:00:00Z'));
    expect(barsBetween(month, at('2026-01-01T00:00:00Z'), at('2026-04-01T00:00:00Z'))).to.equal(3);
    const quarter = parseTimeframe('3-Month');
    expect(alignDown(quarter, at('2026-05-20T00:00:00Z'))).to.equal(at('2026-04-01T00:00:00Z'));
  });

  it('counts missing bars in a half-open range', () => {
    const m1 = parseTimeframe('1m');
    expect(barsBetween(m1, at('2026-11-24T10:01:00Z'), at('2026-11-24T10:08:00Z'))).to.equal(7);
    expect(barsBetween(m1, at('2026-11-24T10:08:00Z'), at('2026-11-24T10:08:00Z'))).to.equal(0);
  });
});
