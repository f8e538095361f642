import type { WireBar } from '../shared/domain/bar';

/** One series as an exporter spells it (raw, not canonical: normalization is the workers' job). */
export interface ExportedSeries {
  provider: string;
  venue: string;
  symbol: string;
  timeframe: string;
  /** Bar length in ms, for generating open times. */
  stepMs: number;
  basePrice: number;
}

/**
 * A deterministic random walk, so two runs (or a test and its assertion) agree on every value
 * without storing them: the same (series index, bar index) always yields the same bar.
 */
export function barAt(series: ExportedSeries, seriesIndex: number, startMs: number, i: number): WireBar {
  const seed = (seriesIndex + 1) * 1_000_003 + i * 7919;
  const noise = (k: number): number => {
    const x = Math.sin(seed * 12.9898 + k * 78.233) * 43758.5453;
    return x - Math.floor(x);
  };
  const drift = Math.sin(i / 50) * 0.02 + (noise(1) - 0.5) * 0.01;
  const open = round(series.basePrice * (1 + drift));
  const close = round(open * (1 + (noise(2) - 0.5) * 0.004));
  const high = round(Math.max(open, close) * (1 + noise(3) * 0.002));
  const low = round(Math.min(open, close) * (1 - noise(4) * 0.002));
  return {
    symbol: series.symbol,
    timeframe: series.timeframe,
    provider: series.provider,
    venue: series.venue,
    ts_utc: startMs + i * series.stepMs,
    open,
    high,
    low,
    close,
    volume: round(noise(5) * 100),
    run_id: null,
    source: 'LIVE',
    history_request_id: null,
  };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** The demo universe: the same ticker at several venues, spelled the way each venue does. */
export const DEMO_SERIES: ExportedSeries[] = [
  { provider: 'Quantower', venue: 'Binance', symbol: 'BTCUSDT', timeframe: '1m', stepMs: 60_000, basePrice: 97_000 },
  { provider: 'Quantower', venue: 'Binance', symbol: 'ETH-USDT', timeframe: '1m', stepMs: 60_000, basePrice: 3_400 },
  { provider: 'Quantower', venue: 'Binance', symbol: 'BTCUSD', timeframe: '1m', stepMs: 60_000, basePrice: 97_050 },
  { provider: 'Quantower', venue: 'Coinbase', symbol: 'BTC/USD', timeframe: 'M1', stepMs: 60_000, basePrice: 97_100 },
  { provider: 'Quantower', venue: 'Kraken', symbol: 'XXBTZUSD', timeframe: '1-Min', stepMs: 60_000, basePrice: 97_080 },
  { provider: 'Quantower', venue: 'Kraken', symbol: 'XBT/EUR', timeframe: '1h', stepMs: 3_600_000, basePrice: 91_000 },
  { provider: 'Quantower', venue: 'CME', symbol: 'ESZ6', timeframe: '5min', stepMs: 300_000, basePrice: 6_050 },
];
