import { expect } from 'chai';
import type { Catalog } from '../../shared/domain/bar';
import {
  formatReport,
  isVerified,
  mergeMappings,
  parseMappingEntries,
  parseMappingJson,
  progressLine,
  resolveRunSeries,
  storageSaved,
  VerificationReport,
} from '../../shared/domain/legacy';
import type { VenueRules } from '../../shared/domain/symbol';
import { explainIncompatibility } from '../../shared/adapters/schema-compatibility';

const binance: VenueRules = { name: 'Binance', quotes: ['USDT', 'USD', 'BTC'], assetAliases: {}, tickerAliases: {} };
const catalog: Catalog = {
  provider: (n) => (n.toLowerCase() === 'quantower' ? 'Quantower' : undefined),
  venue: (n) => (n.toLowerCase() === 'binance' ? binance : undefined),
};

describe('legacy migration rules', () => {
  describe('mapping', () => {
    it('parses run and symbol entries and reports every bad one', () => {
      const { mapping, problems } = parseMappingEntries([
        'run:r1=Quantower/Binance',
        'symbol: btcusdt =Quantower/Binance',
        'r2=Quantower/Binance',
        'run:r3=QuantowerBinance',
      ]);
      expect(mapping.byRun.get('r1')).to.deep.equal({ provider: 'Quantower', venue: 'Binance' });
      expect(mapping.bySymbol.get('BTCUSDT')).to.deep.equal({ provider: 'Quantower', venue: 'Binance' });
      expect(problems).to.have.length(2);
      expect(problems[0]).to.include('r2=Quantower/Binance');
    });

    it('parses the JSON file form, and inline entries override it', () => {
      const file = parseMappingJson(
        '{"runs": {"r1": "Quantower/Binance"}, "symbols": {"ETHUSDT": "Quantower/Binance"}}',
      );
      expect(file.problems).to.deep.equal([]);
      const inline = parseMappingEntries(['run:r1=Quantower/Coinbase']).mapping;
      const merged = mergeMappings(file.mapping, inline);
      expect(merged.byRun.get('r1')).to.deep.equal({ provider: 'Quantower', venue: 'Coinbase' });
      expect(merged.bySymbol.has('ETHUSDT')).to.equal(true);
      expect(parseMappingJson('not json').problems[0]).to.include('not JSON');
      expect(parseMappingJson('{"runs": []}').problems[0]).to.include('"runs"');
    });

    it('resolves a run rule before a symbol rule and normalizes the identity like live bars', () => {
      const { mapping } = parseMappingEntries(['run:r1=quantower/binance', 'symbol:BTC-USDT=Quantower/Binance']);
      expect(resolveRunSeries({ runId: 'r1', symbol: 'btc_usdt', timeframe: 'M1' }, mapping, catalog)).to.deep.equal({
        ok: true,
        provider: 'Quantower',
        venue: 'Binance',
        symbol: 'BTC/USDT',
        timeframe: '1-Min',
        rule: 'run',
      });
      const bySymbol = resolveRunSeries({ runId: 'r9', symbol: 'btc-usdt', timeframe: '1h' }, mapping, catalog);
      expect(bySymbol).to.include({ ok: true, rule: 'symbol', timeframe: '1-Hour' });
    });

    it('never guesses: no rule, an unknown venue or a bad timeframe leave the row unmapped with a reason', () => {
      const { mapping } = parseMappingEntries(['run:r2=Quantower/Kraken', 'run:r3=Quantower/Binance']);
      const none = resolveRunSeries({ runId: 'r1', symbol: 'BTCUSDT', timeframe: '1m' }, mapping, catalog);
      expect(none.ok).to.equal(false);
      expect(!none.ok && none.reason)
        .to.include('no mapping')
        .and.to.include('run:r1=');
      const venue = resolveRunSeries({ runId: 'r2', symbol: 'BTCUSDT', timeframe: '1m' }, mapping, catalog);
      expect(!venue.ok && venue.reason).to.include('"Kraken" is not registered');
      const tf = resolveRunSeries({ runId: 'r3', symbol: 'BTCUSDT', timeframe: 'fortnightly' }, mapping, catalog);
      expect(!tf.ok && tf.reason).to.include('INVALID_TIMEFRAME');
    });
  });

  describe('report', () => {
    const report: VerificationReport = {
      legacyBars: 50_000,
      distinctBars: 10_000,
      migratedBars: 10_000,
      conflicts: 3,
      unmappedRunSeries: 0,
      unmappedBars: 0,
      sizesBefore: { legacy: 5_000_000, market_bars: 8_192 },
      sizesAfter: { legacy: 5_000_000, market_bars: 1_008_192, run_subscriptions: 16_384 },
    };

    it('counts the storage saved as the legacy table minus what the shared store grew', () => {
      expect(storageSaved(report, 'legacy')).to.equal(5_000_000 - 1_000_000 - 16_384);
    });

    it('is verified only when every mapped bar is migrated and nothing is unmapped', () => {
      expect(isVerified(report)).to.equal(true);
      expect(isVerified({ ...report, migratedBars: 9_999 })).to.equal(false);
      expect(isVerified({ ...report, unmappedRunSeries: 1 })).to.equal(false);
      const text = formatReport(report, 'legacy');
      expect(text).to.include('legacy bars').and.to.include('50000').and.to.include('verified: yes');
    });

    it('draws a progress bar', () => {
      expect(progressLine(5_000, 10_000, 10)).to.equal('[#####.....]  50.0%  5,000/10,000 bars');
      expect(progressLine(0, 0, 4)).to.include('100.0%');
    });
  });

  describe('schema compatibility explanation', () => {
    const v1 = JSON.stringify({
      type: 'record',
      name: 'Bar',
      fields: [{ name: 'symbol', type: 'string' }],
    });
    it('names a new field without a default', () => {
      const reader = JSON.stringify({
        type: 'record',
        name: 'Bar',
        fields: [
          { name: 'symbol', type: 'string' },
          { name: 'fee', type: 'double' },
        ],
      });
      expect(explainIncompatibility(reader, v1).join(' ')).to.include('"fee"');
    });
    it('finds nothing wrong with a new optional field', () => {
      const reader = JSON.stringify({
        type: 'record',
        name: 'Bar',
        fields: [
          { name: 'symbol', type: 'string' },
          { name: 'venue', type: ['null', 'string'], default: null },
        ],
      });
      expect(explainIncompatibility(reader, v1)).to.deep.equal([]);
    });
    it('reports a type change through the resolver', () => {
      const reader = JSON.stringify({ type: 'record', name: 'Bar', fields: [{ name: 'symbol', type: 'int' }] });
      expect(explainIncompatibility(reader, v1)).to.have.length(1);
    });
  });
});
