import type { Knex } from 'knex';
import type { SeriesIdentity } from '../domain/series';
import { seriesKey } from '../domain/series';
import type { BarRow, RunSpan, WriteResult } from '../domain/flush';

import { runPrepared } from './postgres';
import { EPOCH_MS } from './sql';

/**
 * Series ids by series key, cached for the life of the process. Ids never change once created,
 * so the cache needs no invalidation; creation is `INSERT ... ON CONFLICT DO NOTHING` followed by
 * a read, which is safe when two workers create the same series at once.
 */
export class SeriesDirectory {
  private readonly ids = new Map<string, number>();

  constructor(private readonly knex: Knex) {}

  async resolve(series: Iterable<SeriesIdentity>): Promise<Map<string, number>> {
    const missing = new Map<string, SeriesIdentity>();
    for (const s of series) {
      const key = seriesKey(s);
      if (!this.ids.has(key)) missing.set(key, s);
    }
    if (missing.size > 0) {
      const list = [...missing.values()];
      const cols = [
        list.map((s) => s.symbol),
        list.map((s) => s.timeframe),
        list.map((s) => s.provider),
        list.map((s) => s.venue),
      ];
      // Committed on its own, before the bars: a cached id must never belong to a rolled-back row.
      await this.knex.raw(
        `INSERT INTO market_series (symbol, timeframe, provider, venue)
         SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[])
         ORDER BY 1, 2, 3, 4
         ON CONFLICT (symbol, timeframe, provider, venue) DO NOTHING`,
        cols,
      );
      const found = await this.knex.raw<{ rows: Array<SeriesIdentity & { id: string }> }>(
        `SELECT s.id, s.symbol, s.timeframe, s.provider, s.venue
           FROM market_series s
           JOIN unnest(?::text[], ?::text[], ?::text[], ?::text[]) AS w(symbol, timeframe, provider, venue)
             USING (symbol, timeframe, provider, venue)`,
        cols,
      );
      for (const row of found.rows) this.ids.set(seriesKey(row), Number(row.id));
    }
    return this.ids;
  }
}

export const WRITE_FLUSH_SQL = `WITH runs AS (
       INSERT INTO strategy_runs (id) SELECT DISTINCT unnest($1::text[]) ORDER BY 1 ON CONFLICT (id) DO NOTHING
     ), subscriptions AS (
       INSERT INTO run_subscriptions AS r (run_id, series_id, first_bar_utc, last_bar_utc)
       SELECT run_id, series_id, ${EPOCH_MS} first_ms, ${EPOCH_MS} last_ms
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(run_id, series_id, first_ms, last_ms)
        ORDER BY run_id, series_id
       ON CONFLICT (run_id, series_id) DO UPDATE
          SET first_bar_utc = LEAST(r.first_bar_utc, EXCLUDED.first_bar_utc),
              last_bar_utc = GREATEST(r.last_bar_utc, EXCLUDED.last_bar_utc)
        WHERE EXCLUDED.first_bar_utc < r.first_bar_utc OR EXCLUDED.last_bar_utc > r.last_bar_utc
     ), bars AS (
       INSERT INTO market_bars AS b (series_id, ts_utc, open, high, low, close, volume, source, version_ts)
       SELECT series_id, ${EPOCH_MS} ts_ms, open, high, low, close, volume, source, ${EPOCH_MS} version_ms
         FROM unnest($5::bigint[], $6::bigint[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::bigint[])
           AS v(series_id, ts_ms, open, high, low, close, volume, source, version_ms)
       ON CONFLICT (series_id, ts_utc) DO UPDATE
          SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
              volume = EXCLUDED.volume, source = EXCLUDED.source, version_ts = EXCLUDED.version_ts,
              revision = b.revision + 1, updated_at = now()
        WHERE EXCLUDED.version_ts >= b.version_ts
          AND (b.open, b.high, b.low, b.close, b.volume) IS DISTINCT FROM
              (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)
       -- A new row keeps revision 0, an update makes it at least 1 (xmax = 0 is refused on a partitioned table).
       RETURNING (b.revision = 0) AS inserted
     ), coverage AS (
       -- Keeps market_series.start_utc/end_utc current; touches a row only when its coverage grows.
       UPDATE market_series s
          SET start_utc = LEAST(s.start_utc, ${EPOCH_MS} v.first_ms),
              end_utc = GREATEST(s.end_utc, ${EPOCH_MS} v.last_ms)
         FROM unnest($14::bigint[], $15::bigint[], $16::bigint[]) AS v(id, first_ms, last_ms)
        WHERE s.id = v.id
          AND (s.start_utc IS NULL OR s.end_utc IS NULL
               OR ${EPOCH_MS} v.first_ms < s.start_utc OR ${EPOCH_MS} v.last_ms > s.end_utc)
     )
     SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) AS changed FROM bars`;

/**
 * Writes one flush as ONE statement: runs, subscriptions, bars and coverage are data-modifying
 * CTEs, atomic like a transaction but one round trip instead of six (BEGIN, four statements,
 * COMMIT). Arrays are bound as one parameter per column, so the statement stays far below
 * PostgreSQL's 65,535 bind parameters however many bars a flush holds. The sub-statements see
 * the same snapshot, which is all they need: none reads what another writes (the subscriptions'
 * foreign key to strategy_runs is checked at the end of the statement).
 */
export async function writeFlush(knex: Knex, rows: BarRow[], runSpans: RunSpan[]): Promise<WriteResult> {
  const result = await runPrepared<{ inserted: string; changed: string }>(
    knex,
    'bi_write_flush',
    WRITE_FLUSH_SQL,
    writeFlushParameters(rows, runSpans),
  );
  const inserted = Number(result[0]!.inserted);
  const changed = Number(result[0]!.changed);
  return { inserted, corrected: changed - inserted };
}

/** The parameters of WRITE_FLUSH_SQL ($1..$16) for a flush (the growth bench EXPLAINs the same). */
export function writeFlushParameters(rows: BarRow[], runSpans: RunSpan[]): string[] {
  // Sorted by primary key so concurrent writers lock rows in the same order (no deadlocks).
  const sorted = [...rows].sort((a, b) => a.seriesId - b.seriesId || a.tsMs - b.tsMs);
  const numbers = (k: 'seriesId' | 'tsMs' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'versionMs'): string =>
    numberArray(sorted.map((r) => r[k]));
  const coverage = coverageOf(sorted);
  return [
    textArray(runSpans.map((s) => s.runId)),
    numberArray(runSpans.map((s) => s.seriesId)),
    numberArray(runSpans.map((s) => s.firstMs)),
    numberArray(runSpans.map((s) => s.lastMs)),
    numbers('seriesId'),
    numbers('tsMs'),
    numbers('open'),
    numbers('high'),
    numbers('low'),
    numbers('close'),
    numbers('volume'),
    textArray(sorted.map((r) => r.source)),
    numbers('versionMs'),
    numberArray(coverage.ids),
    numberArray(coverage.firsts),
    numberArray(coverage.lasts),
  ];
}

/**
 * Array parameters as PostgreSQL array literals, built in one join: node-postgres otherwise
 * escapes element by element, which was a visible share of a worker's CPU at thousands of rows
 * per flush. Numbers are finite (validated): JavaScript prints each in a form float8 and bigint
 * parse back exactly.
 */
export function numberArray(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

/** Text elements quoted, with backslash and double quote escaped (NUL never reaches here). */
export function textArray(values: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += `"${values[i]!.replace(/[\\"]/g, '\\$&')}"`;
  }
  return out + '}';
}

/** Per series in the flush, its first and last bar time (rows sorted by series, then time). */
function coverageOf(sorted: BarRow[]): { ids: number[]; firsts: number[]; lasts: number[] } {
  const ids: number[] = [];
  const firsts: number[] = [];
  const lasts: number[] = [];
  for (const r of sorted) {
    if (ids[ids.length - 1] !== r.seriesId) {
      ids.push(r.seriesId);
      firsts.push(r.tsMs);
      lasts.push(r.tsMs);
    } else lasts[lasts.length - 1] = r.tsMs;
  }
  return { ids, firsts, lasts };
}
