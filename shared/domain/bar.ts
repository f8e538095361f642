import { RejectError } from './errors';
import { rejectControlCharacters } from './text';
import { SeriesIdentity, seriesKey } from './series';
import { addBars, alignDown, formatTimeframe, isAligned, parseTimeframe, Timeframe } from './timeframe';
import { normalizeSymbol, VenueRules } from './symbol';

export type BarSource = 'LIVE' | 'HISTORY';

/** A bar as decoded from the wire, before any trust is placed in it. */
export interface WireBar {
  symbol: string;
  timeframe: string;
  provider?: string | null;
  venue?: string | null;
  ts_utc: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  run_id?: string | null;
  source?: BarSource;
  history_request_id?: string | null;
}

/** A bar whose identity is canonical and whose values passed every check. */
export interface CanonicalBar extends SeriesIdentity {
  /** seriesKey() of the bar's series, computed once per spelling rather than once per bar. */
  readonly seriesKey: string;
  readonly tf: Timeframe;
  readonly tsMs: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly runId: string | null;
  readonly source: BarSource;
  readonly historyRequestId: string | null;
}

/** Registered providers and venues, looked up case-insensitively. */
export interface Catalog {
  provider(name: string): string | undefined;
  venue(name: string): VenueRules | undefined;
  /** Changes whenever the catalog's content may have changed (a reload): cached identities are then stale. */
  readonly generation?: number;
}

/** Provider and venue for legacy bars that do not carry them, configured per exporter. */
export interface ExporterDefaults {
  readonly provider: string;
  readonly venue: string;
}

/** Upper bounds of each string field, in UTF-8 bytes (what PostgreSQL and the wire count), not UTF-16 units. */
export const FIELD_LIMITS = {
  symbol: 64,
  timeframe: 24,
  provider: 64,
  venue: 64,
  run_id: 128,
  history_request_id: 128,
} as const;
type StringField = keyof typeof FIELD_LIMITS;

/**
 * A string field fit to store: no control character, at most its limit in UTF-8 bytes. UTF-8
 * takes one to three bytes per UTF-16 unit (a surrogate pair is two units and four bytes), so a
 * string of n units has n to 3n bytes and most strings need no count at all.
 */
export function checkStringField(field: StringField, value: string | null | undefined): void {
  if (value == null) return;
  rejectControlCharacters(field, value);
  const limit = FIELD_LIMITS[field];
  if (value.length * 3 <= limit) return;
  const bytes = value.length > limit ? value.length : utf8Length(value);
  if (bytes > limit) {
    throw new RejectError(
      'FIELD_TOO_LONG',
      `${field} is ${utf8Length(value)} bytes in UTF-8, more than the ${limit} allowed`,
    );
  }
}

/** UTF-8 length without allocating (Buffer is not available to the pure domain). */
function utf8Length(value: string): number {
  let bytes = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Checks a bar must pass beyond its own fields, configured per deployment. */
export interface BarChecks {
  /** The earliest acceptable bar open time (a bar at 1970 is almost surely a zero default). */
  readonly minTsMs: number;
}

export const DEFAULT_MIN_BAR_TIME = '1990-01-01T00:00:00Z';
export const DEFAULT_BAR_CHECKS: BarChecks = { minTsMs: Date.parse(DEFAULT_MIN_BAR_TIME) };

function checkPrice(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RejectError('INVALID_PRICE', `${name} is ${value}, not a finite number`);
  if (value < 0) throw new RejectError('INVALID_PRICE', `${name} is negative (${value})`);
}

/** The canonical identity of a raw (provider, venue, symbol, timeframe), as a series. */
interface CanonicalIdentity {
  provider: string;
  venue: string;
  symbol: string;
  tf: Timeframe;
  timeframe: string;
  seriesKey: string;
}

/** One raw spelling and what it canonicalizes to. */
interface Spelling {
  provider: string | null | undefined;
  venue: string | null | undefined;
  timeframe: string;
  /** The sender, for legacy bars only (their provider and venue come from its defaults). */
  exporter: string;
  identity: CanonicalIdentity;
}

/**
 * Canonical identities by raw spelling. A stream repeats a handful of spellings millions of
 * times, so normalizing each spelling once takes the lookups and regexes off the per-bar path.
 * Looked up by symbol, then by comparing the few other fields: no key string is built per bar.
 * Only successes are cached; whoever owns the cache clears it when the catalog changes.
 */
export class IdentityCache {
  private readonly bySymbol = new Map<string, Spelling[]>();
  private entries = 0;
  private generation: number | undefined;
  constructor(private readonly maxEntries = 100_000) {}

  /** Forgets everything when the catalog was reloaded since the last call (a new quote or alias). */
  sync(generation: number | undefined): void {
    if (generation === this.generation) return;
    this.generation = generation;
    this.clear();
  }

  get(wire: WireBar, exporter: string): CanonicalIdentity | undefined {
    const spellings = this.bySymbol.get(wire.symbol);
    if (spellings === undefined) return undefined;
    for (const s of spellings) {
      if (
        s.provider === wire.provider &&
        s.venue === wire.venue &&
        s.timeframe === wire.timeframe &&
        s.exporter === exporter
      )
        return s.identity;
    }
    return undefined;
  }

  set(wire: WireBar, exporter: string, identity: CanonicalIdentity): void {
    if (this.entries >= this.maxEntries) this.clear();
    const spelling: Spelling = {
      provider: wire.provider,
      venue: wire.venue,
      timeframe: wire.timeframe,
      exporter,
      identity,
    };
    const spellings = this.bySymbol.get(wire.symbol);
    if (spellings) spellings.push(spelling);
    else this.bySymbol.set(wire.symbol, [spelling]);
    this.entries += 1;
  }

  clear(): void {
    this.bySymbol.clear();
    this.entries = 0;
  }
}

function canonicalIdentity(
  wire: WireBar,
  catalog: Catalog,
  legacy: { exporter: string; defaults: ExporterDefaults | undefined } | undefined,
): CanonicalIdentity {
  checkStringField('symbol', wire.symbol);
  checkStringField('timeframe', wire.timeframe);
  checkStringField('provider', wire.provider);
  checkStringField('venue', wire.venue);
  let providerName = wire.provider;
  let venueName = wire.venue;
  if (providerName == null || venueName == null) {
    const defaults = legacy?.defaults;
    if (!defaults) {
      throw new RejectError(
        'UNMAPPED_EXPORTER',
        `bar has no ${providerName == null ? 'provider' : 'venue'} and exporter ` +
          `${JSON.stringify(legacy?.exporter ?? '')} has no mapping in BI_EXPORTER_DEFAULTS`,
      );
    }
    providerName ??= defaults.provider;
    venueName ??= defaults.venue;
  }
  const provider = catalog.provider(providerName);
  if (!provider)
    throw new RejectError('UNKNOWN_PROVIDER', `provider ${JSON.stringify(providerName)} is not registered`);
  const venue = catalog.venue(venueName);
  if (!venue) throw new RejectError('UNKNOWN_VENUE', `venue ${JSON.stringify(venueName)} is not registered`);
  const tf = parseTimeframe(wire.timeframe);
  const identity = {
    provider,
    venue: venue.name,
    symbol: normalizeSymbol(wire.symbol, venue),
    tf,
    timeframe: formatTimeframe(tf),
  };
  return { ...identity, seriesKey: seriesKey(identity) };
}

/**
 * Turns a decoded bar into a canonical one, or throws a RejectError saying exactly what is wrong.
 * `legacy` names the sender for legacy bars that lack provider and venue.
 */
export function canonicalizeBar(
  wire: WireBar,
  catalog: Catalog,
  nowMs: number,
  legacy?: { exporter: string; defaults: ExporterDefaults | undefined },
  cache?: IdentityCache,
  checks: BarChecks = DEFAULT_BAR_CHECKS,
): CanonicalBar {
  // Identity strings are checked once per spelling (in canonicalIdentity, behind the cache).
  checkStringField('run_id', wire.run_id);
  checkStringField('history_request_id', wire.history_request_id);
  const source = wire.source ?? 'LIVE';
  if (source === 'HISTORY' && !wire.history_request_id) {
    throw new RejectError(
      'INVALID_SOURCE',
      'source is HISTORY but history_request_id is empty: a history bar must name the request it answers',
    );
  }
  if (source === 'LIVE' && wire.history_request_id) {
    throw new RejectError(
      'INVALID_SOURCE',
      `source is LIVE but history_request_id is ${JSON.stringify(wire.history_request_id)}: ` +
        'only bars answering a history request carry one (send them with source HISTORY)',
    );
  }
  // Only a legacy bar's identity depends on who sent it.
  const exporter = wire.provider == null || wire.venue == null ? (legacy?.exporter ?? '') : '';
  cache?.sync(catalog.generation);
  let identity = cache?.get(wire, exporter);
  if (!identity) {
    identity = canonicalIdentity(wire, catalog, legacy);
    cache?.set(wire, exporter, identity);
  }
  const { provider, venue, symbol, tf, timeframe } = identity;

  const { open, high, low, close, volume } = wire;
  checkPrice('open', open);
  checkPrice('high', high);
  checkPrice('low', low);
  checkPrice('close', close);
  if (!Number.isFinite(volume) || volume < 0) {
    throw new RejectError('INVALID_VOLUME', `volume is ${volume}; it must be a finite number >= 0`);
  }
  if (high < Math.max(open, close, low)) {
    throw new RejectError('INVALID_OHLC', `high ${high} is below max(open ${open}, close ${close}, low ${low})`);
  }
  if (low > Math.min(open, close)) {
    throw new RejectError('INVALID_OHLC', `low ${low} is above min(open ${open}, close ${close})`);
  }

  const ts = wire.ts_utc;
  if (!Number.isSafeInteger(ts) || ts < 0) {
    throw new RejectError('INVALID_TIMESTAMP', `ts_utc ${ts} is not a UTC time in milliseconds`);
  }
  if (ts < checks.minTsMs) {
    throw new RejectError(
      'TIMESTAMP_TOO_OLD',
      `ts_utc ${new Date(ts).toISOString()} is before ${new Date(checks.minTsMs).toISOString()} ` +
        '(BI_MIN_BAR_TIME): most likely an unset time sent as zero',
    );
  }
  if (!isAligned(tf, ts)) {
    throw new RejectError(
      'MISALIGNED_TIMESTAMP',
      `ts_utc ${new Date(ts).toISOString()} is not a ${formatTimeframe(tf)} open time ` +
        `(nearest is ${new Date(alignDown(tf, ts)).toISOString()})`,
    );
  }
  const latestAllowed = addBars(tf, alignDown(tf, nowMs), 1);
  if (ts > latestAllowed) {
    throw new RejectError(
      'FUTURE_TIMESTAMP',
      `ts_utc ${new Date(ts).toISOString()} is more than one ${formatTimeframe(tf)} interval in the future`,
    );
  }

  return {
    symbol,
    timeframe,
    provider,
    venue,
    seriesKey: identity.seriesKey,
    tf,
    tsMs: ts,
    open,
    high,
    low,
    close,
    volume,
    runId: wire.run_id ?? null,
    source,
    historyRequestId: wire.history_request_id ?? null,
  };
}

/**
 * The message's produce time orders versions of a bar, so a clock far ahead would make its version
 * win over every later correction. Refuse it, naming both clocks.
 */
export function checkClockSkew(versionMs: number, nowMs: number, maxSkewMs: number): void {
  if (versionMs - nowMs > maxSkewMs) {
    throw new RejectError(
      'CLOCK_SKEW',
      `message time (Kafka CreateTime) ${new Date(versionMs).toISOString()} is ${Math.round((versionMs - nowMs) / 1000)} s ` +
        `ahead of this worker's clock ${new Date(nowMs).toISOString()} (allowed: ${Math.round(maxSkewMs / 1000)} s, ` +
        "BI_MAX_CLOCK_SKEW_MS): fix the exporter machine's clock, then re-send the bar",
    );
  }
}
