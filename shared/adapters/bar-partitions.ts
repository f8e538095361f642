/**
 * The time partitions of market_bars (migrations/20261127000020_partitioned_market_bars.ts): keeping
 * them created ahead of the bars (the ingest workers' maintenance step, through the SECURITY DEFINER
 * function ensure_market_bar_partitions, since the worker role has no DDL rights), watching the
 * DEFAULT partition, listing them, and the opt-in retention of `make retention`.
 */
import type { Knex } from 'knex';
import { Gauge, Registry } from 'prom-client';
import type { PartitionUnit } from '../domain/partitions';
import { partitionsOlderThan } from '../domain/partitions';
import type { Logger } from '../runtime/log';
import type { PartitionMaintenanceSettings } from '../runtime/partition-settings';

const DAY_MS = 86_400_000;

/** Creates the partitions [fromMs, toMs) lacks (moving any DEFAULT rows of their ranges); returns how many. */
export async function ensureBarPartitions(db: Knex, fromMs: number, toMs: number): Promise<number> {
  const { rows } = await db.raw<{ rows: Array<{ n: number }> }>(
    'SELECT ensure_market_bar_partitions(to_timestamp(?::float8 / 1000), to_timestamp(?::float8 / 1000)) AS n',
    [fromMs, toMs],
  );
  return Number(rows[0]!.n);
}

/** Rows in the DEFAULT partition, counted up to `cap`. */
export async function defaultPartitionRows(db: Knex, cap = 1_000_000): Promise<number> {
  const { rows } = await db.raw<{ rows: Array<{ n: string }> }>('SELECT market_bars_default_rows(?) AS n', [cap]);
  return Number(rows[0]!.n);
}

export interface BarPartition {
  name: string;
  /** null for the DEFAULT partition. */
  fromMs: number | null;
  toMs: number | null;
  isDefault: boolean;
  /** The planner's row estimate (pg_class.reltuples, as of the last ANALYZE or VACUUM); -1 if never analyzed. */
  rowsEstimate: number;
  /** Heap, TOAST and indexes. */
  bytes: number;
}

export async function listBarPartitions(db: Knex): Promise<BarPartition[]> {
  const { rows } = await db.raw<{
    rows: Array<{
      name: string;
      from_ms: string | null;
      to_ms: string | null;
      is_default: boolean;
      est: number;
      bytes: string;
    }>;
  }>(
    `SELECT p.partition_name AS name, (extract(epoch FROM p.from_utc) * 1000)::bigint AS from_ms,
            (extract(epoch FROM p.to_utc) * 1000)::bigint AS to_ms, p.is_default,
            c.reltuples AS est, pg_total_relation_size(c.oid) AS bytes
       FROM market_bar_partitions() p JOIN pg_class c ON c.oid = p.partition_name::regclass
      ORDER BY p.from_utc NULLS LAST`,
  );
  return rows.map((r) => ({
    name: r.name,
    fromMs: r.from_ms === null ? null : Number(r.from_ms),
    toMs: r.to_ms === null ? null : Number(r.to_ms),
    isDefault: r.is_default,
    rowsEstimate: Number(r.est),
    bytes: Number(r.bytes),
  }));
}

/** Heap, TOAST and index bytes of a table, summed over its partitions if it has any (0 if it does not exist). */
export async function relationTotalBytes(db: Knex, table: string): Promise<number> {
  const { rows } = await db.raw<{ rows: Array<{ n: string }> }>(
    // pg_partition_tree lists nothing for a table that is not partitioned.
    `SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(to_regclass(?))),
                     pg_total_relation_size(to_regclass(?)), 0) AS n`,
    [table, table],
  );
  return Number(rows[0]!.n);
}

export async function partitionUnit(db: Knex): Promise<PartitionUnit> {
  const { rows } = await db.raw<{ rows: Array<{ unit: PartitionUnit }> }>('SELECT unit FROM market_bar_partitioning');
  return rows[0]!.unit;
}

/** The span of partitions created from now on; existing partitions keep theirs. Admin role only. */
export async function setPartitionUnit(db: Knex, unit: PartitionUnit): Promise<void> {
  await db.raw('UPDATE market_bar_partitioning SET unit = ?, updated_at = now()', [unit]);
}

/**
 * Creates a partition for every unit (month by default) in which `table` has a `ts_utc`, moving
 * any DEFAULT rows of those ranges. Returns the partitions created. For the admin role: it reads
 * `table` directly (the legacy migration's bar table, or the DEFAULT partition).
 */
export async function ensurePartitionsForRowsOf(db: Knex, table: string): Promise<number> {
  const { rows } = await db.raw<{ rows: Array<{ n: string | null }> }>(
    `SELECT sum(ensure_market_bar_partitions(u, u + CASE p.unit WHEN 'quarter' THEN interval '3 months'
                                                          ELSE ('1 ' || p.unit)::interval END)) AS n
       FROM market_bar_partitioning p,
            LATERAL (SELECT DISTINCT date_trunc(p.unit, ts_utc, 'UTC') AS u FROM ??) d`,
    [table],
  );
  return Number(rows[0]!.n ?? 0);
}

/** Moves every row out of the DEFAULT partition into new partitions of its units. */
export function adoptDefaultRows(db: Knex): Promise<number> {
  return ensurePartitionsForRowsOf(db, 'market_bars_default');
}

export interface RetentionPlan {
  cutoffMs: number;
  drop: BarPartition[];
  keep: number;
}

export async function retentionPlan(db: Knex, cutoffMs: number): Promise<RetentionPlan> {
  const all = await listBarPartitions(db);
  const bounded = all.filter((p) => !p.isDefault) as Array<BarPartition & { fromMs: number; toMs: number }>;
  const drop = partitionsOlderThan(bounded, cutoffMs);
  return { cutoffMs, drop, keep: all.length - drop.length };
}

/**
 * Detaches and drops each partition of the plan, one transaction each (a lock wait over
 * `lockTimeoutMs` fails that step rather than holding up the writers), then moves the first-bar
 * time of the series that lost bars to their first remaining bar. Gaps, runs and subscriptions are
 * history and stay as they are. Admin role only.
 */
export async function applyRetention(
  db: Knex,
  plan: RetentionPlan,
  onDropped: (p: BarPartition) => void = () => undefined,
  lockTimeoutMs = 10_000,
): Promise<void> {
  for (const p of plan.drop) {
    await db.transaction(async (trx) => {
      await trx.raw(`SET LOCAL lock_timeout = ${Math.floor(lockTimeoutMs)}`);
      await trx.raw('ALTER TABLE market_bars DETACH PARTITION ??', [p.name]);
      await trx.raw('DROP TABLE ??', [p.name]);
    });
    onDropped(p);
  }
  if (plan.drop.length === 0) return;
  const droppedUpTo = Math.max(...plan.drop.map((p) => p.toMs!));
  await db.raw(
    `UPDATE market_series s
        SET start_utc = f.first, end_utc = CASE WHEN f.first IS NULL THEN NULL ELSE s.end_utc END
       FROM (SELECT s2.id, (SELECT min(b.ts_utc) FROM market_bars b WHERE b.series_id = s2.id) AS first
               FROM market_series s2 WHERE s2.start_utc < to_timestamp(?::float8 / 1000)) f
      WHERE s.id = f.id`,
    [droppedUpTo],
  );
}

/**
 * The ingest workers' maintenance step: at start and every `everyMs`, the partitions for
 * [now - behindDays, now + aheadDays] are created if missing, and a DEFAULT partition holding rows
 * is logged. A failure (a lock wait too long, PostgreSQL away) is logged and retried next time: the
 * partitions are created weeks ahead, and the DEFAULT partition takes any bar meanwhile.
 */
export class PartitionMaintenance {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Knex,
    private readonly settings: PartitionMaintenanceSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs once (never throws), then schedules itself. */
  async start(): Promise<void> {
    if (this.settings.everyMs === 0) return;
    await this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.settings.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  runOnce(): Promise<void> {
    this.running ??= this.maintain().finally(() => (this.running = undefined));
    return this.running;
  }

  private async maintain(): Promise<void> {
    const now = this.now();
    try {
      const created = await ensureBarPartitions(
        this.db,
        now - this.settings.behindDays * DAY_MS,
        now + this.settings.aheadDays * DAY_MS,
      );
      if (created > 0) this.log.info('created market_bars partitions', { created });
      const inDefault = await defaultPartitionRows(this.db);
      if (inDefault > 0)
        this.log.warn(
          'market_bars DEFAULT partition holds rows: bars outside every partition (make partitions ARGS=adopt-default)',
          {
            rows: inDefault,
          },
        );
    } catch (err) {
      this.log.warn('market_bars partition maintenance failed; will retry', { err });
    }
  }

  /**
   * `bi_market_bars_default_partition_rows` (alert when above 0) and
   * `bi_market_bars_partitioned_until_seconds` (alert when less than a few days ahead of now), read
   * at scrape time. A failed read leaves the last value.
   */
  registerMetrics(registry: Registry): void {
    const db = this.db;
    new Gauge({
      name: 'bi_market_bars_default_partition_rows',
      help: 'rows in the DEFAULT partition of market_bars (bars no time partition covers; counted up to 1,000,000): should be 0',
      registers: [registry],
      async collect() {
        await defaultPartitionRows(db).then(
          (n) => this.set(n),
          () => undefined,
        );
      },
    });
    new Gauge({
      name: 'bi_market_bars_partitioned_until_seconds',
      help: 'end of the newest market_bars time partition (Unix seconds): bars past it land in the DEFAULT partition',
      registers: [registry],
      async collect() {
        await db
          .raw<{ rows: Array<{ s: number | null }> }>(
            'SELECT extract(epoch FROM max(to_utc))::float8 AS s FROM market_bar_partitions()',
          )
          .then(
            (r) => this.set(r.rows[0]?.s ?? 0),
            () => undefined,
          );
      },
    });
  }
}
