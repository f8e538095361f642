/** A series is one canonical (symbol, timeframe, provider, venue): never merged across venues. */
export interface SeriesIdentity {
  readonly symbol: string;
  readonly timeframe: string;
  readonly provider: string;
  readonly venue: string;
}

/**
 * The Kafka key and in-memory cache key of a series. `|` never occurs in a canonical name (the
 * normalizers reject it), so the key is unambiguous.
 */
export function seriesKey(s: SeriesIdentity): string {
  return `${s.provider}|${s.venue}|${s.symbol}|${s.timeframe}`;
}
