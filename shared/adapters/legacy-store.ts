/**
 * The SQL of the legacy migration (workers/legacy-migration/core.ts decides what runs when): the
 * legacy per-run store read and converted in place with set-based statements, the resume point
 * in legacy_migration_progress, and the counts the verification report is made of.
 *
 *   legacy layout:  strategy_runs(id), run_series(run_id, symbol, timeframe),
 *                   <legacy bar table>(run_id, symbol, timeframe, ts_utc, open, high, low, close, volume)
 *   result:         market_series, market_bars (one row per bar), run_subscriptions, run_series
 *                   kept as the mapping (run_id, symbol, timeframe) -> series_id.
 */
import type { Knex } from 'knex';
import type { Catalog } from '../domain/bar';
import { CONFLICT_RULE, VerificationReport } from '../domain/legacy';
import { DbCatalog } from './catalog';
import { migrateLatest } from './postgres';
import { ensurePartitionsForRowsOf } from './bar-partitions';

/** Tables whose sizes the report compares; the legacy bar table is added to these. */
const SIZED_TABLES = ['market_bars', 'market_series', 'run_subscriptions', 'run_series', 'strategy_runs'];

/** A run_series row not mapped yet (run ids as text: legacy ones may be integers). */
export interface RunSeriesRow {
  id: string;
  run_id: string;
  symbol: string;
  timeframe: string;
}

/** The canonical series of mapped rows, and the reason of the others, column by column. */
export interface RunSeriesMapping {
  mapped: { id: string[]; symbol: string[]; timeframe: string[]; provider: string[]; venue: string[]; rule: string[] };
  unmapped: { id: string[]; reason: string[] };
}

/** The counts of the verification report, recounted from the tables. */
export type VerificationCounts = Omit<VerificationReport, 'sizesBefore' | 'sizesAfter'>;

/** The legacy run table, renamed out of the way of the first migration (which creates strategy_runs). */
export const LEGACY_RUNS_TABLE = 'strategy_runs_legacy';
const FIRST_MIGRATION = '20261124000001_market_data.ts';

/**
 * Brings a database to the latest schema, whether it is new, already migrated, or a legacy store
 * that never ran a migration. The legacy layout has its own strategy_runs, which the first
 * migration would try to create again and fail; so, only when that migration has not run yet, the
 * legacy table is renamed to strategy_runs_legacy (its rows and extra columns kept) and its ids are
 * copied into the new strategy_runs. Returns what it did, for the log.
 */
export async function prepareSchema(knex: Knex): Promise<string[]> {
  const done: string[] = [];
  const migrated =
    (await knex.schema.hasTable('knex_migrations')) &&
    (await knex('knex_migrations').where({ name: FIRST_MIGRATION }).first()) !== undefined;
  if (!migrated && (await knex.schema.hasTable('strategy_runs'))) {
    await knex.transaction(async (trx) => {
      await trx.schema.renameTable('strategy_runs', LEGACY_RUNS_TABLE);
      // Indexes (and the constraints they back, e.g. strategy_runs_pkey) keep their names on a
      // rename and would collide with the ones the first migration creates.
      const { rows } = await trx.raw<{ rows: Array<{ name: string }> }>(
        `SELECT indexname AS name FROM pg_indexes
         WHERE schemaname = current_schema() AND tablename = ? AND indexname LIKE 'strategy\\_runs%'`,
        [LEGACY_RUNS_TABLE],
      );
      for (const { name } of rows) {
        await trx.raw('ALTER INDEX ?? RENAME TO ??', [name, name.replace(/^strategy_runs/, LEGACY_RUNS_TABLE)]);
      }
    });
    done.push(`renamed the legacy strategy_runs to ${LEGACY_RUNS_TABLE}`);
  }
  const applied = await migrateLatest(knex);
  if (applied.length > 0) done.push(`applied migrations ${applied.join(', ')}`);
  if (await knex.schema.hasTable(LEGACY_RUNS_TABLE)) {
    const { rowCount } = await knex.raw<{ rowCount: number }>(
      `INSERT INTO strategy_runs (id) SELECT id::text FROM ?? ON CONFLICT (id) DO NOTHING`,
      [LEGACY_RUNS_TABLE],
    );
    if (rowCount > 0) done.push(`copied ${rowCount} runs from ${LEGACY_RUNS_TABLE}`);
  }
  return done;
}

/** The legacy store of one legacy bar table (a validated identifier), and the tables it is migrated into. */
export class LegacyStore {
  constructor(
    private readonly knex: Knex,
    readonly table: string,
  ) {}

  async legacyTableExists(): Promise<boolean> {
    return this.knex.schema.hasTable(this.table);
  }

  async tableSizes(): Promise<Record<string, number>> {
    const tables = [...SIZED_TABLES, this.table];
    const { rows } = await this.knex.raw<{ rows: Array<{ t: string; bytes: string | null }> }>(
      // Summed over partitions: a partitioned parent (market_bars) has no storage of its own.
      // (pg_partition_tree lists nothing for a plain table.)
      `SELECT t, coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(to_regclass(t))),
                         pg_total_relation_size(to_regclass(t))) AS bytes
         FROM unnest(?::text[]) AS t`,
      [tables],
    );
    return Object.fromEntries(rows.filter((r) => r.bytes !== null).map((r) => [r.t, Number(r.bytes)]));
  }

  /** The first start records the sizes before anything was written; a resume keeps them. */
  async recordStart(): Promise<void> {
    await this.knex.raw(
      `INSERT INTO legacy_migration (id, legacy_table, sizes_before) VALUES (1, ?, ?::jsonb) ON CONFLICT (id) DO NOTHING`,
      [this.table, JSON.stringify(await this.tableSizes())],
    );
  }

  /** The sizes recorded at the first start, or undefined when the migration never started. */
  async sizesBefore(): Promise<Record<string, number> | undefined> {
    const state = await this.knex('legacy_migration')
      .where({ id: 1 })
      .first<{ sizes_before: Record<string, number> } | undefined>();
    return state?.sizes_before;
  }

  /** The catalog of providers and venues the mapping is checked against. */
  async catalog(): Promise<Catalog> {
    const catalog = new DbCatalog(this.knex);
    await catalog.load();
    return catalog;
  }

  /** run_series rows without a series yet (rows unmapped on an earlier run included). */
  async unmappedRunSeries(): Promise<RunSeriesRow[]> {
    // Legacy run ids may be integers: as text they match the mapping and strategy_runs.id.
    const { rows } = await this.knex.raw<{ rows: RunSeriesRow[] }>(
      'SELECT id, run_id::text AS run_id, symbol, timeframe FROM run_series WHERE series_id IS NULL ORDER BY id',
    );
    return rows;
  }

  /** Gives the mapped rows their series (created when new) and the others their reason, in one transaction. */
  async applyMapping(mapping: RunSeriesMapping): Promise<void> {
    const ok = mapping.mapped;
    const bad = mapping.unmapped;
    await this.knex.transaction(async (trx) => {
      if (ok.id.length > 0) {
        await trx.raw(
          `INSERT INTO market_series (symbol, timeframe, provider, venue)
           SELECT DISTINCT s, tf, p, v FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]) AS u(s, tf, p, v)
           ON CONFLICT (symbol, timeframe, provider, venue) DO NOTHING`,
          [ok.symbol, ok.timeframe, ok.provider, ok.venue],
        );
        await trx.raw(
          `UPDATE run_series rs
           SET provider = u.p, venue = u.v, series_id = ms.id, mapping_rule = u.rule, unmapped_reason = NULL, mapped_at = now()
           FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) AS u(id, s, tf, p, v, rule)
           JOIN market_series ms ON ms.symbol = u.s AND ms.timeframe = u.tf AND ms.provider = u.p AND ms.venue = u.v
           WHERE rs.id = u.id`,
          [ok.id, ok.symbol, ok.timeframe, ok.provider, ok.venue, ok.rule],
        );
        // A run newly mapped onto a series already finished: that series is redone from the start
        // (idempotent: existing bars and conflicts stay), so its bars and subscription are not missed.
        await trx.raw(
          `UPDATE legacy_migration_progress SET done = false, last_ts_utc = NULL, bars_done = 0
           WHERE series_id IN (SELECT series_id FROM run_series WHERE id = ANY(?::bigint[]))`,
          [ok.id],
        );
      }
      if (bad.id.length > 0) {
        await trx.raw(
          `UPDATE run_series rs SET unmapped_reason = u.reason
           FROM unnest(?::bigint[], ?::text[]) AS u(id, reason) WHERE rs.id = u.id`,
          [bad.id, bad.reason],
        );
      }
    });
  }

  /** The runs of mapped rows into strategy_runs, their series into the resume table, and the BARS phase. */
  async startBars(): Promise<void> {
    await this.knex.raw(
      `INSERT INTO strategy_runs (id) SELECT DISTINCT run_id::text FROM run_series WHERE series_id IS NOT NULL
       ON CONFLICT (id) DO NOTHING`,
    );
    await this.knex.raw(
      `INSERT INTO legacy_migration_progress (series_id) SELECT DISTINCT series_id FROM run_series
       WHERE series_id IS NOT NULL ON CONFLICT (series_id) DO NOTHING`,
    );
    await this.knex.raw(`UPDATE legacy_migration SET phase = 'BARS' WHERE id = 1`);
    // Legacy bars are history older than the partitions the workers create around now.
    await ensurePartitionsForRowsOf(this.knex, this.table);
  }

  /** Distinct bars handled so far, over every series. */
  async barsDone(): Promise<number> {
    return Number(
      (await this.knex('legacy_migration_progress').sum<Array<{ s: string | null }>>('bars_done as s'))[0]?.s ?? 0,
    );
  }

  /** Series not finished yet, in order. */
  async pendingSeries(): Promise<number[]> {
    const pending = await this.knex('legacy_migration_progress')
      .where({ done: false })
      .orderBy('series_id')
      .pluck<string[]>('series_id');
    return pending.map(Number);
  }

  async distinctMappedBars(): Promise<number> {
    const { rows } = await this.knex.raw<{ rows: Array<{ n: string }> }>(
      `SELECT count(*) AS n FROM (
         SELECT DISTINCT rs.series_id, b.ts_utc FROM run_series rs
         JOIN ?? b ON b.run_id = rs.run_id AND b.symbol = rs.symbol AND b.timeframe = rs.timeframe
         WHERE rs.series_id IS NOT NULL) d`,
      [this.table],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * One chunk of one series in one transaction: the next `chunkBars` distinct open times after
   * the resume point, the winning value of each into market_bars (CONFLICT_RULE), every
   * disagreement into legacy_bar_conflicts, and the resume point moved. Returns the distinct bars
   * handled (0 when the series is finished, which also writes its subscriptions and start/end).
   */
  async migrateChunk(seriesId: number, chunkBars: number): Promise<number> {
    return this.knex.transaction(async (trx) => {
      const progress = await trx('legacy_migration_progress')
        .where({ series_id: seriesId })
        .forUpdate()
        .first<{ last_ts_utc: string | null } | undefined>(trx.raw('last_ts_utc::text AS last_ts_utc'));
      const after = progress?.last_ts_utc ?? '-infinity';
      const { rows: window } = await trx.raw<{ rows: Array<{ upto: string | null }> }>(
        `SELECT max(ts_utc)::text AS upto FROM (
           SELECT DISTINCT b.ts_utc FROM run_series rs
           JOIN ?? b ON b.run_id = rs.run_id AND b.symbol = rs.symbol AND b.timeframe = rs.timeframe
           WHERE rs.series_id = ? AND b.ts_utc > ?::timestamptz ORDER BY 1 LIMIT ?) x`,
        [this.table, seriesId, after, chunkBars],
      );
      const upto = window[0]?.upto ?? null;
      if (upto === null) {
        await this.finishSeries(trx, seriesId);
        return 0;
      }
      const { rows } = await trx.raw<{ rows: Array<{ bars: number }> }>(
        `WITH src AS (
           SELECT rs.id AS rs_id, rs.run_id, b.ts_utc, b.open, b.high, b.low, b.close, b.volume
           FROM run_series rs
           JOIN ?? b ON b.run_id = rs.run_id AND b.symbol = rs.symbol AND b.timeframe = rs.timeframe
           WHERE rs.series_id = ? AND b.ts_utc > ?::timestamptz AND b.ts_utc <= ?::timestamptz
         ),
         votes AS (
           SELECT ts_utc, open, high, low, close, volume, count(*) AS n, max(rs_id) AS latest,
                  array_agg(DISTINCT run_id ORDER BY run_id) AS runs
           FROM src GROUP BY ts_utc, open, high, low, close, volume
         ),
         -- The documented rule (CONFLICT_RULE): most runs first, then the run registered last.
         ranked AS (
           SELECT v.*, row_number() OVER (PARTITION BY ts_utc ORDER BY n DESC, latest DESC) AS rk,
                  count(*) OVER (PARTITION BY ts_utc) AS variants
           FROM votes v
         ),
         ins AS (
           -- version_ts at the epoch: legacy values are the oldest knowledge, so any live
           -- correction overwrites them; a bar the live pipeline already stored is kept.
           INSERT INTO market_bars (series_id, ts_utc, open, high, low, close, volume, source, revision, version_ts)
           SELECT ?, ts_utc, open, high, low, close, volume, 'LIVE', 0, 'epoch'::timestamptz FROM ranked WHERE rk = 1
           ON CONFLICT (series_id, ts_utc) DO NOTHING
           RETURNING 1
         ),
         conf AS (
           INSERT INTO legacy_bar_conflicts (series_id, ts_utc, chosen, variants, rule)
           SELECT ?, ts_utc,
                  (jsonb_agg(jsonb_build_object('open', open, 'high', high, 'low', low, 'close', close,
                     'volume', volume, 'runs', to_jsonb(runs)) ORDER BY rk)) -> 0,
                  jsonb_agg(jsonb_build_object('open', open, 'high', high, 'low', low, 'close', close,
                     'volume', volume, 'runs', to_jsonb(runs)) ORDER BY rk),
                  ?
           FROM ranked WHERE variants > 1 GROUP BY ts_utc
           ON CONFLICT (series_id, ts_utc) DO NOTHING
           RETURNING 1
         )
         SELECT (SELECT count(DISTINCT ts_utc) FROM src)::int AS bars,
                (SELECT count(*) FROM ins)::int AS inserted,
                (SELECT count(*) FROM conf)::int AS conflicts`,
        [this.table, seriesId, after, upto, seriesId, seriesId, CONFLICT_RULE],
      );
      const bars = rows[0]?.bars ?? 0;
      await trx.raw(
        `UPDATE legacy_migration_progress SET last_ts_utc = ?::timestamptz, bars_done = bars_done + ? WHERE series_id = ?`,
        [upto, bars, seriesId],
      );
      return bars;
    });
  }

  /** Subscriptions of every run of the series, its start/end, and the series marked done. */
  private async finishSeries(trx: Knex.Transaction, seriesId: number): Promise<void> {
    await trx.raw(
      `INSERT INTO run_subscriptions (run_id, series_id, first_bar_utc, last_bar_utc)
       SELECT rs.run_id::text, rs.series_id, min(b.ts_utc), max(b.ts_utc)
       FROM run_series rs
       JOIN ?? b ON b.run_id = rs.run_id AND b.symbol = rs.symbol AND b.timeframe = rs.timeframe
       WHERE rs.series_id = ?
       GROUP BY rs.run_id, rs.series_id
       ON CONFLICT (run_id, series_id) DO UPDATE
         SET first_bar_utc = LEAST(run_subscriptions.first_bar_utc, EXCLUDED.first_bar_utc),
             last_bar_utc = GREATEST(run_subscriptions.last_bar_utc, EXCLUDED.last_bar_utc)`,
      [this.table, seriesId],
    );
    await trx.raw(
      `UPDATE market_series ms
       SET start_utc = LEAST(ms.start_utc, agg.first), end_utc = GREATEST(ms.end_utc, agg.last)
       FROM (SELECT min(ts_utc) AS first, max(ts_utc) AS last FROM market_bars WHERE series_id = ?) agg
       WHERE ms.id = ? AND agg.first IS NOT NULL`,
      [seriesId, seriesId],
    );
    await trx('legacy_migration_progress').where({ series_id: seriesId }).update({ done: true });
  }

  /** The report's counts, recounted from the tables (not from counters). */
  async verificationCounts(): Promise<VerificationCounts> {
    const one = async (sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<number> => {
      const { rows } = await this.knex.raw<{ rows: Array<{ n: string }> }>(sql, bindings);
      return Number(rows[0]?.n ?? 0);
    };
    const join = `JOIN ?? b ON b.run_id = rs.run_id AND b.symbol = rs.symbol AND b.timeframe = rs.timeframe`;
    return {
      legacyBars: await one(`SELECT count(*) AS n FROM ??`, [this.table]),
      distinctBars: await this.distinctMappedBars(),
      migratedBars: await one(
        `SELECT count(*) AS n FROM (SELECT DISTINCT rs.series_id, b.ts_utc FROM run_series rs ${join}
           WHERE rs.series_id IS NOT NULL) d
         JOIN market_bars m ON m.series_id = d.series_id AND m.ts_utc = d.ts_utc`,
        [this.table],
      ),
      conflicts: await one(`SELECT count(*) AS n FROM legacy_bar_conflicts`),
      unmappedRunSeries: await one(`SELECT count(*) AS n FROM run_series WHERE series_id IS NULL`),
      // Bars of unmapped rows and bars with no run_series row at all: both stay only in the legacy table.
      unmappedBars: await one(
        `SELECT count(*) AS n FROM ?? b WHERE NOT EXISTS (
           SELECT 1 FROM run_series rs WHERE rs.series_id IS NOT NULL
             AND rs.run_id = b.run_id AND rs.symbol = b.symbol AND rs.timeframe = b.timeframe)`,
        [this.table],
      ),
    };
  }

  async storeReport(report: VerificationReport, verified: boolean): Promise<void> {
    await this.knex('legacy_migration')
      .where({ id: 1 })
      .update({
        phase: 'VERIFIED',
        report: JSON.stringify(report),
        verified,
        finished_at: this.knex.fn.now(),
      });
  }

  /** Drops the legacy bar table and records it, in one transaction. */
  async dropLegacyTable(): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await trx.raw('DROP TABLE ??', [this.table]);
      await trx('legacy_migration')
        .where({ id: 1 })
        .update({ phase: 'LEGACY_DROPPED', legacy_dropped_at: trx.fn.now() });
    });
  }
}
