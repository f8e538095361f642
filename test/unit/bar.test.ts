import { expect } from 'chai';
import { canonicalizeBar, Catalog, IdentityCache, WireBar } from '../../shared/domain/bar';
import { RejectCode, RejectError } from '../../shared/domain/errors';
import type { VenueRules } from '../../shared/domain/symbol';

const binance: VenueRules = { name: 'Binance', quotes: ['USDT', 'USD', 'BTC'], assetAliases: {}, tickerAliases: {} };
const catalog: Catalog = {
  provider: (n) => (n.toLowerCase() === 'quantower' ? 'Quantower' : undefined),
  venue: (n) => (n.toLowerCase() === 'binance' ? binance : undefined),
};
const NOW = Date.parse('2026-11-24T10:30:20Z');
const good: WireBar = {
  symbol: 'btc-usdt',
  timeframe: '1m',
  provider: 'quantower',
  venue: 'BINANCE',
  ts_utc: Date.parse('2026-11-24T10:29:00Z'),
  open: 100,
  high: 110,
  low: 95,
  close: 105,
  volume: 12.5,
  run_id: 'run-1',
  source: 'LIVE',
  history_request_id: null,
};

function rejects(
  patch: Partial<WireBar>,
  code: RejectCode,
  legacy?: Parameters<typeof canonicalizeBar>[3],
): RejectError {
  try {
    canonicalizeBar({ ...good, ...patch }, catalog, NOW, legacy);
  } catch (err) {
    expect(err).to.be.instanceOf(RejectError);
    expect((err as RejectError).code).to.equal(code);
    return err as RejectError;
  }
  throw new Error(`expected ${code}`);
}

describe('canonicalizeBar', () => {
  it('canonicalizes identity, case-insensitively for provider and venue', () => {
    const bar = canonicalizeBar(good, catalog, NOW);
    expect(bar).to.include({
      symbol: 'BTC/USDT',
      timeframe: '1-Min',
      provider: 'Quantower',
      venue: 'Binance',
      runId: 'run-1',
    });
  });

  it('accepts the current bar and the next one, but not later ones', () => {
    expect(canonicalizeBar({ ...good, ts_utc: Date.parse('2026-11-24T10:31:00Z') }, catalog, NOW).tsMs).to.be.a(
      'number',
    );
    rejects({ ts_utc: Date.parse('2026-11-24T10:32:00Z') }, 'FUTURE_TIMESTAMP');
  });

  it('accepts a flat bar (open = high = low = close)', () => {
    expect(() => canonicalizeBar({ ...good, open: 5, high: 5, low: 5, close: 5 }, catalog, NOW)).to.not.throw();
  });

  const cases: Array<[string, Partial<WireBar>, RejectCode]> = [
    ['unknown venue', { venue: 'Nowhere' }, 'UNKNOWN_VENUE'],
    ['unknown provider', { provider: 'Nobody' }, 'UNKNOWN_PROVIDER'],
    ['NaN price', { close: Number.NaN }, 'INVALID_PRICE'],
    ['infinite price', { open: Number.POSITIVE_INFINITY }, 'INVALID_PRICE'],
    ['negative price', { low: -1 }, 'INVALID_PRICE'],
    ['high below low', { high: 90 }, 'INVALID_OHLC'],
    ['high below close', { high: 104 }, 'INVALID_OHLC'],
    ['low above open', { low: 101 }, 'INVALID_OHLC'],
    ['negative volume', { volume: -3 }, 'INVALID_VOLUME'],
    ['NaN volume', { volume: Number.NaN }, 'INVALID_VOLUME'],
    ['misaligned timestamp', { ts_utc: Date.parse('2026-11-24T10:29:17Z') }, 'MISALIGNED_TIMESTAMP'],
    ['negative timestamp', { ts_utc: -60_000 }, 'INVALID_TIMESTAMP'],
    ['oversized symbol', { symbol: 'X'.repeat(65) }, 'FIELD_TOO_LONG'],
    ['oversized run id', { run_id: 'r'.repeat(129) }, 'FIELD_TOO_LONG'],
    ['bad timeframe', { timeframe: 'fortnight' }, 'INVALID_TIMEFRAME'],
    ['bad symbol', { symbol: 'BTC|USDT' }, 'INVALID_SYMBOL'],
  ];
  for (const [name, patch, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      const err = rejects(patch, code);
      expect(err.message).to.have.length.greaterThan(10);
    });
  }

  it('maps a legacy bar without provider/venue through the exporter defaults', () => {
    const bar = canonicalizeBar({ ...good, provider: null, venue: null }, catalog, NOW, {
      exporter: 'desk-1',
      defaults: { provider: 'Quantower', venue: 'Binance' },
    });
    expect(bar).to.include({ provider: 'Quantower', venue: 'Binance' });
  });

  it('rejects a legacy bar from an unmapped exporter, naming the exporter', () => {
    const err = rejects({ provider: null, venue: null }, 'UNMAPPED_EXPORTER', {
      exporter: 'desk-9',
      defaults: undefined,
    });
    expect(err.message).to.contain('desk-9').and.contain('BI_EXPORTER_DEFAULTS');
  });

  it("gives the same result from its identity cache, still checking each bar's values", () => {
    const cache = new IdentityCache();
    const first = canonicalizeBar(good, catalog, NOW, undefined, cache);
    const second = canonicalizeBar({ ...good, close: 106 }, catalog, NOW, undefined, cache);
    expect(second).to.include({ symbol: first.symbol, timeframe: first.timeframe, venue: first.venue, close: 106 });
    expect(() => canonicalizeBar({ ...good, close: Number.NaN }, catalog, NOW, undefined, cache)).to.throw(RejectError);
    // Legacy bars map per exporter: the cache must not hand one exporter's mapping to another.
    const legacy = { ...good, provider: null, venue: null };
    canonicalizeBar(
      legacy,
      catalog,
      NOW,
      { exporter: 'a', defaults: { provider: 'Quantower', venue: 'Binance' } },
      cache,
    );
    expect(() => canonicalizeBar(legacy, catalog, NOW, { exporter: 'b', defaults: undefined }, cache))
      .to.throw(RejectError)
      .with.property('code', 'UNMAPPED_EXPORTER');
  });
});
