import { RejectError } from './errors';

/** What a venue's tickers look like: the data that drives symbol normalization. */
export interface VenueRules {
  /** Canonical venue name, e.g. `Binance`. */
  readonly name: string;
  /** Quote currencies used to split concatenated tickers (`BTCUSDT` -> `BTC` + `USDT`). */
  readonly quotes: readonly string[];
  /** Venue spellings of assets (Kraken `XBT` -> `BTC`). */
  readonly assetAliases: Readonly<Record<string, string>>;
  /** Whole-ticker exceptions (Kraken `XXBTZUSD` -> `BTC/USD`). */
  readonly tickerAliases: Readonly<Record<string, string>>;
}

const ALLOWED = /^[A-Za-z0-9._/\- :!^=]+$/;
const ASSET = /^[A-Z0-9.]+$/;

function asset(venue: VenueRules, spelling: string): string {
  return venue.assetAliases[spelling] ?? spelling;
}

/** Every upper-case spelling that ends a concatenated ticker, longest first, with its quote. */
function quoteSuffixes(venue: VenueRules): Array<[string, string]> {
  const suffixes = new Map<string, string>();
  for (const quote of venue.quotes) suffixes.set(quote.toUpperCase(), quote.toUpperCase());
  for (const [spelling, canonical] of Object.entries(venue.assetAliases)) {
    if (suffixes.has(canonical.toUpperCase())) suffixes.set(spelling.toUpperCase(), canonical.toUpperCase());
  }
  return [...suffixes.entries()].sort((a, b) => b[0].length - a[0].length);
}

const suffixCache = new WeakMap<VenueRules, Array<[string, string]>>();

function pair(venue: VenueRules, base: string, quote: string): string {
  return `${asset(venue, base)}/${asset(venue, quote)}`;
}

/**
 * Canonical symbol of a ticker at a venue: `BASE/QUOTE` upper case for currency pairs, the venue's
 * own spelling for anything that is not a pair (futures, stocks). A separator other than `/` only
 * splits when its right side is a known quote, so `BRK-B` stays a stock and is not read as a pair.
 */
export function normalizeSymbol(raw: string, venue: VenueRules): string {
  const text = raw.trim();
  if (text.length === 0 || !ALLOWED.test(text)) {
    throw new RejectError(
      'INVALID_SYMBOL',
      `symbol ${JSON.stringify(raw)} is empty or has characters a ticker never has`,
    );
  }
  const upper = text.toUpperCase();
  const aliased = venue.tickerAliases[upper];
  if (aliased) return aliased;

  let suffixes = suffixCache.get(venue);
  if (!suffixes) suffixCache.set(venue, (suffixes = quoteSuffixes(venue)));
  const isQuote = (s: string): boolean => suffixes.some(([spelling]) => spelling === s);

  const slash = upper.split('/');
  if (slash.length === 2) {
    const [base, quote] = slash as [string, string];
    if (ASSET.test(base) && ASSET.test(quote)) return pair(venue, base, quote);
  }
  if (slash.length > 1) {
    throw new RejectError('INVALID_SYMBOL', `symbol ${JSON.stringify(raw)} is not BASE/QUOTE`);
  }
  const separated = /^([A-Z0-9.]+)[-_ ]([A-Z0-9]+)$/.exec(upper);
  if (separated && isQuote(separated[2]!)) return pair(venue, separated[1]!, separated[2]!);

  if (/^[A-Z0-9]+$/.test(upper)) {
    for (const [spelling] of suffixes) {
      // A base needs at least two characters: `USDT` alone is an asset, not `U/SDT`.
      if (upper.length - spelling.length >= 2 && upper.endsWith(spelling)) {
        return pair(venue, upper.slice(0, upper.length - spelling.length), spelling);
      }
    }
  }
  return text;
}
