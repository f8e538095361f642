import { expect } from 'chai';
import vectors from '../vectors/normalization.json';
import reference from '../../data/reference-data.json';
import { normalizeSymbol, VenueRules } from '../../shared/domain/symbol';
import { RejectError } from '../../shared/domain/errors';
import { seriesKey } from '../../shared/domain/series';

const venues = new Map<string, VenueRules>(
  reference.venues.map((v) => [
    v.name,
    {
      name: v.name,
      quotes: v.quotes,
      assetAliases: v.assetAliases as Record<string, string>,
      tickerAliases: v.tickerAliases as Record<string, string>,
    },
  ]),
);
const venue = (name: string): VenueRules => {
  const v = venues.get(name);
  if (!v) throw new Error(`no venue ${name} in data/reference-data.json`);
  return v;
};

describe('symbol normalization (test vectors)', () => {
  for (const [venueName, raw, canonical] of vectors.symbols.canonical) {
    it(`${venueName} ${JSON.stringify(raw)} -> ${canonical}`, () => {
      expect(normalizeSymbol(raw!, venue(venueName!))).to.equal(canonical);
    });
  }
  for (const [venueName, raw, code] of vectors.symbols.rejected) {
    it(`${venueName} ${JSON.stringify(raw)} is rejected with ${code}`, () => {
      expect(() => normalizeSymbol(raw!, venue(venueName!)))
        .to.throw(RejectError)
        .with.property('code', code);
    });
  }

  it('keeps BTCUSD at Binance and BTC/USD at Coinbase apart: the venue is part of the identity', () => {
    const id = (v: string, raw: string) =>
      seriesKey({ symbol: normalizeSymbol(raw, venue(v)), timeframe: '1-Min', provider: 'Quantower', venue: v });
    expect(id('Binance', 'BTCUSD')).to.not.equal(id('Coinbase', 'BTC/USD'));
    expect(id('Binance', 'BTC-USDT')).to.equal(id('Binance', 'BTCUSDT'));
  });
});
