/**
 * Pure rules of the legacy per-run store migration: how a legacy (run_id, symbol, timeframe) row
 * gets a provider and venue (only from an explicit mapping, never guessed), how its identity is
 * normalized, how a conflict between runs is settled, and how progress and the verification
 * report are shown. The SQL that applies these rules lives in shared/adapters/legacy-store.ts.
 */
import type { Catalog } from './bar';
import { RejectError } from './errors';
import { normalizeSymbol } from './symbol';
import { normalizeTimeframe } from './timeframe';

export interface ProviderVenue {
  readonly provider: string;
  readonly venue: string;
}

/**
 * Explicit provider/venue for legacy rows, which never carried them. A rule for a run wins over a
 * rule for a symbol, because it is the more specific statement of what that run traded.
 */
export interface LegacyMapping {
  readonly byRun: ReadonlyMap<string, ProviderVenue>;
  /** Keyed by the legacy symbol spelling, upper case and trimmed. */
  readonly bySymbol: ReadonlyMap<string, ProviderVenue>;
}

export const EMPTY_MAPPING: LegacyMapping = { byRun: new Map(), bySymbol: new Map() };

function parseTarget(text: string): ProviderVenue | undefined {
  const parts = text.split('/').map((p) => p.trim());
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { provider: parts[0], venue: parts[1] };
}

export function symbolKey(raw: string): string {
  return raw.trim().toUpperCase();
}

/**
 * Parses `run:<run_id>=Provider/Venue` and `symbol:<SYMBOL>=Provider/Venue` entries (the inline
 * form, e.g. from BI_LEGACY_MAPPING). Returns the problems instead of throwing, so a config reader
 * can list every bad entry at once.
 */
export function parseMappingEntries(entries: readonly string[]): { mapping: LegacyMapping; problems: string[] } {
  const byRun = new Map<string, ProviderVenue>();
  const bySymbol = new Map<string, ProviderVenue>();
  const problems: string[] = [];
  for (const entry of entries) {
    const m = /^(run|symbol):(.+?)=(.+)$/.exec(entry.trim());
    const target = m ? parseTarget(m[3]!) : undefined;
    if (!m || !target || m[2]!.trim() === '') {
      problems.push(
        `mapping entry ${JSON.stringify(entry)} is not run:<run_id>=Provider/Venue or symbol:<SYMBOL>=Provider/Venue`,
      );
      continue;
    }
    if (m[1] === 'run') byRun.set(m[2]!.trim(), target);
    else bySymbol.set(symbolKey(m[2]!), target);
  }
  return { mapping: { byRun, bySymbol }, problems };
}

/** Parses the file form: `{"runs": {"<run_id>": "Provider/Venue"}, "symbols": {"BTCUSDT": "Provider/Venue"}}`. */
export function parseMappingJson(text: string): { mapping: LegacyMapping; problems: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { mapping: EMPTY_MAPPING, problems: [`mapping file is not JSON: ${(err as Error).message}`] };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { mapping: EMPTY_MAPPING, problems: ['mapping file must be an object with "runs" and/or "symbols"'] };
  }
  const entries: string[] = [];
  const problems: string[] = [];
  for (const [section, prefix] of [
    ['runs', 'run'],
    ['symbols', 'symbol'],
  ] as const) {
    const value = (doc as Record<string, unknown>)[section];
    if (value === undefined) continue;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`mapping file: "${section}" must be an object of "key": "Provider/Venue"`);
      continue;
    }
    for (const [key, target] of Object.entries(value as Record<string, unknown>)) {
      entries.push(`${prefix}:${key}=${typeof target === 'string' ? target : JSON.stringify(target)}`);
    }
  }
  const parsed = parseMappingEntries(entries);
  return { mapping: parsed.mapping, problems: [...problems, ...parsed.problems] };
}

/** Both forms merged; inline entries win, so a one-off override needs no file edit. */
export function mergeMappings(base: LegacyMapping, override: LegacyMapping): LegacyMapping {
  return {
    byRun: new Map([...base.byRun, ...override.byRun]),
    bySymbol: new Map([...base.bySymbol, ...override.bySymbol]),
  };
}

export interface LegacyRunSeries {
  readonly runId: string;
  readonly symbol: string;
  readonly timeframe: string;
}

export type ResolvedRunSeries =
  | {
      readonly ok: true;
      readonly provider: string;
      readonly venue: string;
      readonly symbol: string;
      readonly timeframe: string;
      readonly rule: 'run' | 'symbol';
    }
  | { readonly ok: false; readonly reason: string };

/**
 * The canonical series of one legacy row, or why it has none. Provider and venue come only from
 * the mapping and must be registered; symbol and timeframe are normalized exactly as the workers
 * normalize live bars, so migrated bars land in the same series live bars do.
 */
export function resolveRunSeries(row: LegacyRunSeries, mapping: LegacyMapping, catalog: Catalog): ResolvedRunSeries {
  const byRun = mapping.byRun.get(row.runId);
  const target = byRun ?? mapping.bySymbol.get(symbolKey(row.symbol));
  if (!target) {
    return {
      ok: false,
      reason: `no mapping for run ${JSON.stringify(row.runId)} or symbol ${JSON.stringify(row.symbol)}; add run:${row.runId}=Provider/Venue or symbol:${symbolKey(row.symbol)}=Provider/Venue`,
    };
  }
  const provider = catalog.provider(target.provider);
  if (!provider) return { ok: false, reason: `mapped provider ${JSON.stringify(target.provider)} is not registered` };
  const venue = catalog.venue(target.venue);
  if (!venue) return { ok: false, reason: `mapped venue ${JSON.stringify(target.venue)} is not registered` };
  try {
    return {
      ok: true,
      provider,
      venue: venue.name,
      symbol: normalizeSymbol(row.symbol, venue),
      timeframe: normalizeTimeframe(row.timeframe),
      rule: byRun ? 'run' : 'symbol',
    };
  } catch (err) {
    if (err instanceof RejectError) return { ok: false, reason: `${err.code}: ${err.message}` };
    throw err;
  }
}

/**
 * The documented rule for runs that disagree on one bar (same series and open time, different
 * OHLCV): the value held by the most runs wins; on a tie, the value of the run registered last in
 * the legacy store (highest run_series id) wins, because later runs ran later software and data
 * feeds. Every disagreement is written to legacy_bar_conflicts with all variants and their runs.
 * Implemented in SQL (core.ts); stated here so the docs, the code and the tests quote one text.
 */
export const CONFLICT_RULE =
  'majority of runs wins; a tie goes to the run registered last in the legacy store (highest run_series id)';

/** One line of progress: `[#########...........]  45.0%  4,500/10,000 bars`. */
export function progressLine(done: number, total: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width);
  const fmt = (n: number): string => n.toLocaleString('en-US');
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}%  ${fmt(done)}/${fmt(total)} bars`;
}

export interface VerificationReport {
  readonly legacyBars: number;
  readonly distinctBars: number;
  readonly migratedBars: number;
  readonly conflicts: number;
  readonly unmappedRunSeries: number;
  readonly unmappedBars: number;
  /** Bytes per table (pg_total_relation_size) when the migration first started, and now. */
  readonly sizesBefore: Readonly<Record<string, number>>;
  readonly sizesAfter: Readonly<Record<string, number>>;
}

/**
 * Bytes freed once the legacy bar table is dropped: its size, minus what the shared store grew by.
 * Negative when the new tables grew more than the legacy table holds (tiny data sets).
 */
export function storageSaved(r: VerificationReport, legacyTable: string): number {
  const legacy = r.sizesBefore[legacyTable] ?? 0;
  const grown = Object.entries(r.sizesAfter)
    .filter(([table]) => table !== legacyTable)
    .reduce((sum, [table, after]) => sum + (after - (r.sizesBefore[table] ?? 0)), 0);
  return legacy - grown;
}

/** Complete when every mapped legacy bar is in the shared store and nothing is left unmapped. */
export function isVerified(r: VerificationReport): boolean {
  return r.migratedBars === r.distinctBars && r.unmappedRunSeries === 0;
}

export function formatReport(r: VerificationReport, legacyTable: string): string {
  const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  const tables = [...new Set([...Object.keys(r.sizesBefore), ...Object.keys(r.sizesAfter)])].sort();
  return [
    'legacy migration report',
    `  legacy bars (all runs' copies)  ${r.legacyBars}`,
    `  distinct bars (mapped)          ${r.distinctBars}`,
    `  migrated bars (in market_bars)  ${r.migratedBars}`,
    `  conflicts (see legacy_bar_conflicts)  ${r.conflicts}  [rule: ${CONFLICT_RULE}]`,
    `  unmapped run_series rows        ${r.unmappedRunSeries} (${r.unmappedBars} bars left in place; see run_series.unmapped_reason)`,
    '  table sizes before -> after:',
    ...tables.map(
      (t) =>
        `    ${t.padEnd(22)} ${mb(r.sizesBefore[t] ?? 0).padStart(12)} -> ${mb(r.sizesAfter[t] ?? 0).padStart(12)}`,
    ),
    `  storage saved once ${legacyTable} is dropped: ${mb(storageSaved(r, legacyTable))}`,
    `  verified: ${isVerified(r) ? 'yes' : 'NO'}`,
  ].join('\n');
}
