import { expect } from 'chai';
import { AgeFormatError, cutoffOf, parseAge, partitionsOlderThan } from '../../shared/domain/partitions';

describe('market_bars partitions: retention rules', () => {
  it('reads ages in days, weeks, months and years, and refuses anything else', () => {
    expect(parseAge('24 months')).to.deep.equal({ amount: 24, unit: 'month' });
    expect(parseAge(' 1 year')).to.deep.equal({ amount: 1, unit: 'year' });
    expect(parseAge('90days')).to.deep.equal({ amount: 90, unit: 'day' });
    expect(parseAge('6 Weeks')).to.deep.equal({ amount: 6, unit: 'week' });
    for (const bad of ['', '12', 'months', '0 months', '-3 days', '1.5 years', '12 fortnights'])
      expect(() => parseAge(bad), bad).to.throw(AgeFormatError);
  });

  it('counts months and years on the UTC calendar (the day of month clamped), days and weeks exactly', () => {
    const now = Date.parse('2026-03-31T10:20:30.400Z');
    expect(new Date(cutoffOf({ amount: 1, unit: 'month' }, now)).toISOString()).to.equal('2026-02-28T10:20:30.400Z');
    expect(new Date(cutoffOf({ amount: 13, unit: 'month' }, now)).toISOString()).to.equal('2025-02-28T10:20:30.400Z');
    expect(new Date(cutoffOf({ amount: 2, unit: 'year' }, now)).toISOString()).to.equal('2024-03-31T10:20:30.400Z');
    expect(new Date(cutoffOf({ amount: 90, unit: 'day' }, now)).toISOString()).to.equal('2025-12-31T10:20:30.400Z');
    expect(new Date(cutoffOf({ amount: 2, unit: 'week' }, now)).toISOString()).to.equal('2026-03-17T10:20:30.400Z');
  });

  it('drops only partitions whose every bar is older than the cutoff, oldest first; one straddling it stays', () => {
    const p = (name: string, from: string, to: string) => ({ name, fromMs: Date.parse(from), toMs: Date.parse(to) });
    const parts = [
      p('feb', '2026-02-01', '2026-03-01'),
      p('dec', '2025-12-01', '2026-01-01'),
      p('jan', '2026-01-01', '2026-02-01'),
    ];
    expect(partitionsOlderThan(parts, Date.parse('2026-02-01')).map((x) => x.name)).to.deep.equal(['dec', 'jan']);
    expect(partitionsOlderThan(parts, Date.parse('2026-01-15')).map((x) => x.name)).to.deep.equal(['dec']);
    expect(partitionsOlderThan(parts, Date.parse('2025-06-01'))).to.deep.equal([]);
  });
});
