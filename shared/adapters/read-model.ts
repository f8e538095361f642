import type { Knex } from 'knex';
import type { GapKind, GapStatus } from '../domain/gaps';
import type { SeriesIdentity } from '../domain/series';
import { GapView, Interval, verdictFromCounts, Verdict } from '../domain/coverage';
import { EPOCH_MS as TS, msOf as MS } from './sql';

/**
 * The analyst's read model: series, gaps, offline periods and strategy runs, read from
 * market_series, data_gaps, connection_sessions, strategy_runs and run_subscriptions only. No
 * statement here reads market_bars (a test EXPLAINs each one), so every answer stays fast however
 * many bars are stored: covered time is derived from a series' span minus its missing gaps
 * (shared/domain/coverage.ts).
 */

export interface Statement {
  sql: string;
  bindings: Array<string | number | string[] | null>;
}

/** Series names to match (any case); an absent or empty one matches all. */
export interface IdentityFilter {
  provider?: string | undefined;
  venue?: string | undefined;
  symbol?: string | undefined;
  timeframe?: string | undefined;
}

export interface Page {
  limit: number;
  offset: number;
}

export type SeriesFilter = IdentityFilter & Page;

export interface GapFilter extends IdentityFilter, Page {
  kind?: GapKind[] | undefined;
  status?: GapStatus[] | undefined;
  /** Gaps that overlap [fromMs, toMs). */
  fromMs?: number | undefined;
  toMs?: number | undefined;
  seriesId?: number | undefined;
}

export interface SeriesRow extends SeriesIdentity {
  id: number;
  firstBarMs: number | null;
  lastBarMs: number | null;
}

export interface SeriesSummary extends SeriesRow {
  runs: number;
  gaps: {
    total: number;
    byStatus: Record<GapStatus, number>;
    byKind: Record<GapKind, number>;
    missingBars: number;
  };
  verdict: Verdict;
  /** The exporter's latest known connection status for the series' provider and venue. */
  exporter: 'CONNECTED' | 'DISCONNECTED' | 'UNKNOWN';
}

export interface StoredGapView extends GapView {
  attempts: number;
  detectedAtMs: number;
  updatedAtMs: number;
  responseStatus: string | null;
}

export interface OfflinePeriod extends Interval {
  provider: string;
  venue: string;
  /** True while the period is still going on (toMs is then the end of the asked range). */
  ongoing: boolean;
}

export interface RunSummary {
  id: string;
  createdAtMs: number;
  series: number;
  window: Interval | null;
  gaps: { total: number; missing: number; missingBars: number };
  verdict: Verdict;
}

export interface Subscription extends SeriesRow {
  firstSeenMs: number;
  lastSeenMs: number;
}

/** `lower(col) = lower(?)` for each given filter: names are canonical, but a person may type `binance`. */
function identityFilters(f: IdentityFilter, alias: string): { where: string[]; bindings: string[] } {
  const where: string[] = [];
  const bindings: string[] = [];
  for (const col of ['provider', 'venue', 'symbol', 'timeframe'] as const) {
    const v = f[col];
    if (v !== undefined && v !== '') {
      where.push(`lower(${alias}.${col}) = lower(?)`);
      bindings.push(v);
    }
  }
  return { where, bindings };
}

const whereClause = (conditions: string[]): string =>
  conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';

const GAP_COLUMNS = `g.gap_id, g.series_id, ${MS('g.from_utc')} AS from_ms, ${MS('g.to_utc')} AS to_ms, g.missing_bars,
  g.kind, g.status, g.attempts, ${MS('g.detected_at')} AS detected_ms, ${MS('g.updated_at')} AS updated_ms,
  g.response_status`;

/** Gaps with their series, the two aliases every gap listing filters on. */
const GAPS_WITH_SERIES = 'data_gaps g JOIN market_series s ON s.id = g.series_id';

/**
 * Gaps (g) in a run's subscription window (rs): [first bar seen, last bar seen + one bar), so a gap
 * overlaps it when it starts at or before the last bar seen and ends after the first.
 */
const GAP_IN_RUN_WINDOW = 'g.from_utc <= rs.last_bar_utc AND g.to_utc > rs.first_bar_utc';

const SERIES_COLUMNS = `s.id, s.provider, s.venue, s.symbol, s.timeframe,
  ${MS('s.start_utc')} AS first_ms, ${MS('s.end_utc')} AS last_ms`;

function gapConditions(f: GapFilter): { where: string[]; bindings: Statement['bindings'] } {
  const ident = identityFilters(f, 's');
  const where: string[] = [...ident.where];
  const bindings: Statement['bindings'] = [...ident.bindings];
  if (f.kind && f.kind.length > 0) {
    where.push('g.kind = ANY(?::text[])');
    bindings.push(f.kind);
  }
  if (f.status && f.status.length > 0) {
    where.push('g.status = ANY(?::text[])');
    bindings.push(f.status);
  }
  if (f.fromMs !== undefined) {
    where.push(`g.to_utc > ${TS} ?::bigint`);
    bindings.push(f.fromMs);
  }
  if (f.toMs !== undefined) {
    where.push(`g.from_utc < ${TS} ?::bigint`);
    bindings.push(f.toMs);
  }
  if (f.seriesId !== undefined) {
    where.push('g.series_id = ?');
    bindings.push(f.seriesId);
  }
  return { where, bindings };
}

/** Every statement the read model runs, as SQL and bindings, so a test can EXPLAIN each one. */
export const readStatements = {
  seriesList(f: SeriesFilter): Statement {
    const { where, bindings } = identityFilters(f, 's');
    // The page of series first, then the per-series counts for that page only: a lateral join
    // before ORDER BY ... LIMIT would count the gaps of every series.
    return {
      sql: `SELECT ${SERIES_COLUMNS},
                   (SELECT count(*) FROM run_subscriptions r WHERE r.series_id = s.id)::int AS runs,
                   g.*, c.status AS exporter
              FROM (SELECT * FROM market_series s ${whereClause(where)}
                     ORDER BY s.provider, s.venue, s.symbol, s.timeframe, s.id
                     LIMIT ? OFFSET ?) s
              LEFT JOIN LATERAL (
                SELECT count(*)::int AS gaps_total,
                       count(*) FILTER (WHERE status = 'OPEN')::int AS open,
                       count(*) FILTER (WHERE status = 'BACKFILL_REQUESTED')::int AS backfill_requested,
                       count(*) FILTER (WHERE status = 'FILLED')::int AS filled,
                       count(*) FILTER (WHERE status = 'NO_DATA')::int AS no_data,
                       count(*) FILTER (WHERE status = 'UNFILLABLE')::int AS unfillable,
                       count(*) FILTER (WHERE kind = 'OFFLINE')::int AS offline,
                       count(*) FILTER (WHERE kind = 'NO_ACTIVITY')::int AS no_activity,
                       count(*) FILTER (WHERE kind = 'UNKNOWN')::int AS unknown,
                       coalesce(sum(missing_bars) FILTER (WHERE status <> 'FILLED'), 0)::bigint AS missing_bars
                  FROM data_gaps WHERE series_id = s.id) g ON true
              LEFT JOIN LATERAL (
                SELECT cs.status FROM connection_sessions cs
                 WHERE cs.provider = s.provider AND cs.venue = s.venue
                 ORDER BY cs.from_utc DESC LIMIT 1) c ON true
             ORDER BY s.provider, s.venue, s.symbol, s.timeframe, s.id`,
      bindings: [...bindings, f.limit, f.offset],
    };
  },

  seriesCount(f: SeriesFilter): Statement {
    const { where, bindings } = identityFilters(f, 's');
    return { sql: `SELECT count(*)::int AS n FROM market_series s ${whereClause(where)}`, bindings };
  },

  seriesById(id: number): Statement {
    return { sql: `SELECT ${SERIES_COLUMNS} FROM market_series s WHERE s.id = ?`, bindings: [id] };
  },

  gapsOfSeries(seriesId: number, range: Interval): Statement {
    return {
      sql: `SELECT ${GAP_COLUMNS} FROM data_gaps g
             WHERE g.series_id = ? AND g.from_utc < ${TS} ?::bigint AND g.to_utc > ${TS} ?::bigint
             ORDER BY g.from_utc, g.gap_id`,
      bindings: [seriesId, range.toMs, range.fromMs],
    };
  },

  /** Disconnected periods of these provider/venue pairs that overlap `range`. */
  offline(pairs: Array<{ provider: string; venue: string }>, range: Interval): Statement {
    return {
      sql: `SELECT cs.provider, cs.venue, ${MS('cs.from_utc')} AS from_ms, ${MS('cs.to_utc')} AS to_ms
              FROM connection_sessions cs
              JOIN unnest(?::text[], ?::text[]) AS p(provider, venue) ON cs.provider = p.provider AND cs.venue = p.venue
             WHERE cs.status = 'DISCONNECTED' AND cs.from_utc < ${TS} ?::bigint
               AND (cs.to_utc IS NULL OR cs.to_utc > ${TS} ?::bigint)
             ORDER BY cs.provider, cs.venue, cs.from_utc`,
      bindings: [pairs.map((p) => p.provider), pairs.map((p) => p.venue), range.toMs, range.fromMs],
    };
  },

  runsList(limit: number, offset: number): Statement {
    return {
      sql: `SELECT r.id, ${MS('r.created_at')} AS created_ms, sub.series, sub.first_ms, sub.last_ms,
                   gs.total, gs.missing, gs.missing_bars
              FROM (SELECT * FROM strategy_runs r ORDER BY r.created_at DESC, r.id LIMIT ? OFFSET ?) r
              LEFT JOIN LATERAL (
                SELECT count(*)::int AS series, ${MS('min(rs.first_bar_utc)')} AS first_ms,
                       ${MS('max(rs.last_bar_utc)')} AS last_ms
                  FROM run_subscriptions rs WHERE rs.run_id = r.id) sub ON true
              LEFT JOIN LATERAL (
                SELECT count(*)::int AS total,
                       count(*) FILTER (WHERE g.status <> 'FILLED')::int AS missing,
                       coalesce(sum(g.missing_bars) FILTER (WHERE g.status <> 'FILLED'), 0)::bigint AS missing_bars
                  FROM run_subscriptions rs
                  JOIN data_gaps g ON g.series_id = rs.series_id AND ${GAP_IN_RUN_WINDOW}
                 WHERE rs.run_id = r.id) gs ON true
             ORDER BY r.created_at DESC, r.id`,
      bindings: [limit, offset],
    };
  },

  runsCount(): Statement {
    return { sql: 'SELECT count(*)::int AS n FROM strategy_runs', bindings: [] };
  },

  runById(runId: string): Statement {
    return {
      sql: `SELECT r.id, ${MS('r.created_at')} AS created_ms FROM strategy_runs r WHERE r.id = ?`,
      bindings: [runId],
    };
  },

  runSubscriptions(runId: string): Statement {
    return {
      sql: `SELECT ${SERIES_COLUMNS}, ${MS('rs.first_bar_utc')} AS seen_first_ms, ${MS('rs.last_bar_utc')} AS seen_last_ms
              FROM run_subscriptions rs JOIN market_series s ON s.id = rs.series_id
             WHERE rs.run_id = ?
             ORDER BY s.provider, s.venue, s.symbol, s.timeframe, s.id`,
      bindings: [runId],
    };
  },

  /** Every gap inside a run's window on each of its series (GAP_IN_RUN_WINDOW). */
  runGaps(runId: string): Statement {
    return {
      sql: `SELECT ${GAP_COLUMNS}
              FROM run_subscriptions rs
              JOIN data_gaps g ON g.series_id = rs.series_id AND ${GAP_IN_RUN_WINDOW}
             WHERE rs.run_id = ?
             ORDER BY g.series_id, g.from_utc, g.gap_id`,
      bindings: [runId],
    };
  },

  gapsList(f: GapFilter): Statement {
    const { where, bindings } = gapConditions(f);
    return {
      sql: `SELECT ${GAP_COLUMNS}, s.provider, s.venue, s.symbol, s.timeframe
              FROM ${GAPS_WITH_SERIES}
              ${whereClause(where)}
             ORDER BY g.from_utc DESC, g.gap_id
             LIMIT ? OFFSET ?`,
      bindings: [...bindings, f.limit, f.offset],
    };
  },

  gapsCount(f: GapFilter): Statement {
    const { where, bindings } = gapConditions(f);
    return {
      sql: `SELECT count(*)::int AS n FROM ${GAPS_WITH_SERIES} ${whereClause(where)}`,
      bindings,
    };
  },
};

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toSeriesRow(r: Row): SeriesRow {
  return {
    id: num(r.id),
    provider: String(r.provider),
    venue: String(r.venue),
    symbol: String(r.symbol),
    timeframe: String(r.timeframe),
    firstBarMs: numOrNull(r.first_ms),
    lastBarMs: numOrNull(r.last_ms),
  };
}

function toGap(r: Row): StoredGapView {
  return {
    gapId: String(r.gap_id),
    seriesId: num(r.series_id),
    fromMs: num(r.from_ms),
    toMs: num(r.to_ms),
    missingBars: num(r.missing_bars),
    kind: r.kind as GapKind,
    status: r.status as GapStatus,
    attempts: num(r.attempts ?? 0),
    detectedAtMs: num(r.detected_ms),
    updatedAtMs: num(r.updated_ms),
    responseStatus: (r.response_status as string | null) ?? null,
  };
}

/** Runs the read statements and shapes their rows. */
export class ReadModel {
  constructor(private readonly knex: Knex) {}

  private async rows(s: Statement): Promise<Row[]> {
    const { rows } = await this.knex.raw<{ rows: Row[] }>(s.sql, s.bindings as Knex.RawBinding[]);
    return rows;
  }

  async ping(): Promise<void> {
    await this.knex.raw('SELECT 1');
  }

  async seriesList(f: SeriesFilter): Promise<{ total: number; series: SeriesSummary[] }> {
    const [rows, count] = await Promise.all([
      this.rows(readStatements.seriesList(f)),
      this.rows(readStatements.seriesCount(f)),
    ]);
    return {
      total: num(count[0]?.n ?? 0),
      series: rows.map((r) => {
        const total = num(r.gaps_total);
        const byStatus: Record<GapStatus, number> = {
          OPEN: num(r.open),
          BACKFILL_REQUESTED: num(r.backfill_requested),
          FILLED: num(r.filled),
          NO_DATA: num(r.no_data),
          UNFILLABLE: num(r.unfillable),
        };
        return {
          ...toSeriesRow(r),
          runs: num(r.runs),
          gaps: {
            total,
            byStatus,
            byKind: { OFFLINE: num(r.offline), NO_ACTIVITY: num(r.no_activity), UNKNOWN: num(r.unknown) },
            missingBars: num(r.missing_bars),
          },
          verdict: verdictFromCounts(total, total - byStatus.FILLED),
          exporter: (r.exporter as 'CONNECTED' | 'DISCONNECTED' | null) ?? 'UNKNOWN',
        };
      }),
    };
  }

  async series(id: number): Promise<SeriesRow | undefined> {
    const [row] = await this.rows(readStatements.seriesById(id));
    return row ? toSeriesRow(row) : undefined;
  }

  async gapsOfSeries(seriesId: number, range: Interval): Promise<StoredGapView[]> {
    return (await this.rows(readStatements.gapsOfSeries(seriesId, range))).map(toGap);
  }

  async offline(pairs: Array<{ provider: string; venue: string }>, range: Interval): Promise<OfflinePeriod[]> {
    if (pairs.length === 0) return [];
    return (await this.rows(readStatements.offline(pairs, range))).map((r) => ({
      provider: String(r.provider),
      venue: String(r.venue),
      fromMs: Math.max(num(r.from_ms), range.fromMs),
      toMs: r.to_ms === null ? range.toMs : Math.min(num(r.to_ms), range.toMs),
      ongoing: r.to_ms === null,
    }));
  }

  async runs(limit: number, offset: number): Promise<{ total: number; runs: RunSummary[] }> {
    const [rows, count] = await Promise.all([
      this.rows(readStatements.runsList(limit, offset)),
      this.rows(readStatements.runsCount()),
    ]);
    return {
      total: num(count[0]?.n ?? 0),
      runs: rows.map((r) => {
        const total = num(r.total ?? 0);
        const missing = num(r.missing ?? 0);
        return {
          id: String(r.id),
          createdAtMs: num(r.created_ms),
          series: num(r.series ?? 0),
          window: r.first_ms === null ? null : { fromMs: num(r.first_ms), toMs: num(r.last_ms) },
          gaps: { total, missing, missingBars: num(r.missing_bars ?? 0) },
          verdict: verdictFromCounts(total, missing),
        };
      }),
    };
  }

  async run(runId: string): Promise<{ id: string; createdAtMs: number } | undefined> {
    const [row] = await this.rows(readStatements.runById(runId));
    return row ? { id: String(row.id), createdAtMs: num(row.created_ms) } : undefined;
  }

  async runSubscriptions(runId: string): Promise<Subscription[]> {
    return (await this.rows(readStatements.runSubscriptions(runId))).map((r) => ({
      ...toSeriesRow(r),
      firstSeenMs: num(r.seen_first_ms),
      lastSeenMs: num(r.seen_last_ms),
    }));
  }

  async runGaps(runId: string): Promise<StoredGapView[]> {
    return (await this.rows(readStatements.runGaps(runId))).map(toGap);
  }

  async gaps(f: GapFilter): Promise<{ total: number; gaps: Array<StoredGapView & SeriesIdentity> }> {
    const [rows, count] = await Promise.all([
      this.rows(readStatements.gapsList(f)),
      this.rows(readStatements.gapsCount(f)),
    ]);
    return {
      total: num(count[0]?.n ?? 0),
      gaps: rows.map((r) => ({
        ...toGap(r),
        provider: String(r.provider),
        venue: String(r.venue),
        symbol: String(r.symbol),
        timeframe: String(r.timeframe),
      })),
    };
  }
}
