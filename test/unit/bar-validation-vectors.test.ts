import { expect } from 'chai';
import { canonicalizeBar, Catalog, checkClockSkew, WireBar } from '../../shared/domain/bar';
import { RejectError } from '../../shared/domain/errors';
import type { VenueRules } from '../../shared/domain/symbol';
import vectors from '../vectors/bar-validation.json';

const binance: VenueRules = { name: 'Binance', quotes: ['USDT', 'USD', 'BTC'], assetAliases: {}, tickerAliases: {} };
const catalog: Catalog = {
  provider: (n) => (n.toLowerCase() === 'quantower' ? 'Quantower' : undefined),
  venue: (n) => (n.toLowerCase() === 'binance' ? binance : undefined),
};
const NOW = Date.parse(vectors.now);
const MAX_SKEW_MS = 300_000;

type Patch = Record<string, unknown>;
function wireOf(patch: Patch): WireBar {
  const merged = { ...vectors.base, ...patch } as Record<string, unknown>;
  return { ...merged, ts_utc: Date.parse(merged.ts_utc as string) } as unknown as WireBar;
}

describe('bar validation (test vectors)', () => {
  for (const c of vectors.cases as Array<{ name: string; patch: Patch; code: string | null; createTime?: string }>) {
    it(`${c.name}: ${c.code ?? 'accepted'}`, () => {
      let code: string | null = null;
      try {
        checkClockSkew(c.createTime ? Date.parse(c.createTime) : NOW, NOW, MAX_SKEW_MS);
        canonicalizeBar(wireOf(c.patch), catalog, NOW);
      } catch (err) {
        expect(err).to.be.instanceOf(RejectError);
        code = (err as RejectError).code;
      }
      expect(code).to.equal(c.code);
    });
  }
});
