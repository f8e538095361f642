/**
 * A known state for the read API and the page: three series, gaps of every kind and most
 * statuses, an exporter outage, and three strategy runs whose verdicts differ. Written straight
 * into the tables the read API reads (no bar is stored at all: the API must not need any).
 */
import { db } from './stack';

export const T0 = Date.parse('2026-11-20T10:00:00Z');
const M = 60_000;
const at = (minutes: number): Date => new Date(T0 + minutes * M);

export interface CoverageFixture {
  seriesIds: { btcBinance: number; btcCoinbase: number; esCme: number };
}

export async function insertCoverageFixture(): Promise<CoverageFixture> {
  const insertSeries = async (
    symbol: string,
    timeframe: string,
    venue: string,
    lastMinute: number,
  ): Promise<number> => {
    const [row] = await db()('market_series')
      .insert({ symbol, timeframe, provider: 'Quantower', venue, start_utc: at(0), end_utc: at(lastMinute) })
      .returning<Array<{ id: string }>>('id');
    return Number(row!.id);
  };
  const btcBinance = await insertSeries('BTC/USDT', '1-Min', 'Binance', 119);
  const btcCoinbase = await insertSeries('BTC/USD', '1-Min', 'Coinbase', 119);
  const esCme = await insertSeries('ESZ6', '5-Min', 'CME', 115);

  const gap = (seriesId: number, from: number, to: number, kind: string, status: string, attempts: number) => ({
    gap_id: `gap-${seriesId}-${T0 + from * M}`,
    series_id: seriesId,
    from_utc: at(from),
    to_utc: at(to),
    missing_bars: to - from,
    kind,
    status,
    attempts,
    published_version: 1,
  });
  await db()('data_gaps').insert([
    gap(btcBinance, 20, 30, 'OFFLINE', 'FILLED', 1),
    gap(btcBinance, 50, 60, 'OFFLINE', 'NO_DATA', 1),
    gap(btcBinance, 80, 85, 'NO_ACTIVITY', 'OPEN', 0),
    gap(btcCoinbase, 40, 45, 'UNKNOWN', 'BACKFILL_REQUESTED', 1),
  ]);
  await db()('connection_sessions').insert([
    { provider: 'Quantower', venue: 'Binance', status: 'CONNECTED', from_utc: at(-60), to_utc: at(18) },
    { provider: 'Quantower', venue: 'Binance', status: 'DISCONNECTED', from_utc: at(18), to_utc: at(62) },
    { provider: 'Quantower', venue: 'Binance', status: 'CONNECTED', from_utc: at(62), to_utc: null },
  ]);

  await db()('strategy_runs').insert([{ id: 'run-clean' }, { id: 'run-filled' }, { id: 'run-open' }]);
  const sub = (run: string, seriesId: number, first: number, last: number) => ({
    run_id: run,
    series_id: seriesId,
    first_bar_utc: at(first),
    last_bar_utc: at(last),
  });
  await db()('run_subscriptions').insert([
    // Saw BTC/USDT only before the outage, and the CME future: nothing missing.
    sub('run-clean', btcBinance, 0, 15),
    sub('run-clean', esCme, 0, 115),
    // Saw BTC/USDT across the outage's first gap, which was filled.
    sub('run-filled', btcBinance, 0, 40),
    // Saw both BTC series all along.
    sub('run-open', btcBinance, 0, 119),
    sub('run-open', btcCoinbase, 0, 119),
  ]);
  return { seriesIds: { btcBinance, btcCoinbase, esCme } };
}
