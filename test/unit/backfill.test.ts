import { expect } from 'chai';
import { consumedPast, settlement } from '../../shared/domain/backfill';
import { checkAlias, checkName, checkQuotes, ReferenceDataError } from '../../shared/domain/reference-data';
import { sameRanges } from '../../shared/domain/gaps';

describe('backfill settlement', () => {
  it('the ingest group has consumed past a position only when every partition reached it', () => {
    expect(consumedPast({ '0': 10, '1': 5 }, { '0': 10, '1': 5 })).to.equal(true);
    expect(consumedPast({ '0': 11, '1': 7 }, { '0': 10, '1': 5 })).to.equal(true);
    expect(consumedPast({ '0': 10, '1': 4 }, { '0': 10, '1': 5 })).to.equal(false);
    // A partition the group never committed on lags, unless nothing was ever written to it.
    expect(consumedPast({ '0': 10 }, { '0': 10, '1': 3 })).to.equal(false);
    expect(consumedPast({ '0': 10, '1': -1 }, { '0': 10, '1': 0 })).to.equal(true);
  });

  it('FILLED when nothing is missing, NO_DATA when the arrived bars account for the answer or the settle time is up, else wait', () => {
    expect(settlement({ missingBars: 90, remainingBars: 0, barsSent: 90, settleTimeUp: false })).to.equal('FILLED');
    // 84 of 90 arrived and the exporter said it sent 84: its history has no more.
    expect(settlement({ missingBars: 90, remainingBars: 6, barsSent: 84, settleTimeUp: false })).to.equal('NO_DATA');
    // The answer's bars are still queued behind a backlog: wait, however long ago the answer came.
    expect(settlement({ missingBars: 90, remainingBars: 90, barsSent: 90, settleTimeUp: false })).to.equal('WAIT');
    expect(settlement({ missingBars: 90, remainingBars: 90, barsSent: 90, settleTimeUp: true })).to.equal('NO_DATA');
    expect(settlement({ missingBars: 7, remainingBars: 7, barsSent: 0, settleTimeUp: false })).to.equal('NO_DATA');
  });

  it('ranges compare by bounds', () => {
    const r = { fromMs: 1, toMs: 3, missingBars: 2 };
    expect(sameRanges([r], [{ ...r }])).to.equal(true);
    expect(sameRanges([r], [])).to.equal(false);
    expect(sameRanges([r], [{ ...r, toMs: 4 }])).to.equal(false);
  });
});

describe('reference data rules', () => {
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
      return undefined;
    } catch (err) {
      return err instanceof ReferenceDataError ? err.code : 'other';
    }
  };

  it('names: letters, digits, blanks, dot, dash, underscore; never a |', () => {
    expect(checkName('venue', 'Bitstamp')).to.equal('Bitstamp');
    expect(checkName('venue', 'CME Globex')).to.equal('CME Globex');
    for (const bad of ['', ' Binance', 'Bad|Name', 'x'.repeat(65), 'a/b'])
      expect(
        code(() => checkName('venue', bad)),
        bad,
      ).to.equal('INVALID_NAME');
  });

  it('quotes are upper-cased and deduplicated; anything else is refused', () => {
    expect(checkQuotes(['usdt', ' USD ', 'USDT'])).to.deep.equal(['USDT', 'USD']);
    expect(checkQuotes([])).to.deep.equal([]);
    for (const bad of ['U', 'U$', 'US DT', 'X'.repeat(13)])
      expect(
        code(() => checkQuotes([bad])),
        bad,
      ).to.equal('INVALID_QUOTE');
  });

  it('aliases: ASSET maps an asset, TICKER a whole ticker to BASE/QUOTE or a ticker', () => {
    expect(checkAlias('ASSET', 'xbt', 'btc')).to.deep.equal({ kind: 'ASSET', alias: 'XBT', canonical: 'BTC' });
    expect(checkAlias('TICKER', 'XXBTZUSD', 'BTC/USD')).to.include({ canonical: 'BTC/USD' });
    expect(code(() => checkAlias('PAIR', 'A', 'B'))).to.equal('INVALID_ALIAS');
    expect(code(() => checkAlias('ASSET', 'X/Y', 'BTC'))).to.equal('INVALID_ALIAS');
    expect(code(() => checkAlias('TICKER', 'XXBTZUSD', 'BTC/USD/EUR'))).to.equal('INVALID_ALIAS');
    expect(code(() => checkAlias('ASSET', 'BTC', 'btc'))).to.equal('INVALID_ALIAS');
  });
});
