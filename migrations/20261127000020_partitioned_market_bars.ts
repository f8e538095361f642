import type { Knex } from 'knex';
import { grantToWorker, workerRole } from '../shared/adapters/privileges';
import { EnvReader } from '../shared/runtime/config';
import { PARTITION_UNITS, PartitionUnit } from '../shared/domain/partitions';

/**
 * market_bars range-partitioned by bar time (issue 18): one partition per calendar month in UTC by
 * default (BI_BAR_PARTITION_UNIT at migration time: day, week, month, quarter or year; changed later
 * with `make partitions ARGS='set-unit week'`), plus a DEFAULT partition for anything no partition
 * covers, which must stay empty (the ingest workers export its row count as a metric).
 *
 * Why: at 10,000 series of 1-minute bars the table grows by 5 billion rows a year. With one
 * partition per month, the rows a flush upserts (recent bars) and the index pages it touches live in
 * the current month's partition only, vacuum and analyze work per month, and retention drops a
 * month's partition instead of deleting billions of rows.
 *
 * Partitions are created ahead of time by ensure_market_bar_partitions(from, to): SECURITY DEFINER,
 * owned by the admin role that runs this migration, executable by the worker role. The ingest
 * workers have no DDL rights; their maintenance step (shared/adapters/bar-partitions.ts) calls it at
 * start and then periodically for [now - BI_BAR_PARTITIONS_BEHIND_DAYS, now +
 * BI_BAR_PARTITIONS_AHEAD_DAYS]. pg_partman was the alternative: it needs a background worker in
 * shared_preload_libraries (a server restart and a superuser to configure), another Debian package
 * on every install, and its own tables the worker role would need rights on, for what is one
 * function of 60 lines here.
 *
 * An existing table is converted without losing a row, in the migration's transaction: the old table
 * is renamed, the partitioned parent created with the same columns, defaults, primary key (series_id,
 * ts_utc: it includes the partition key, as PostgreSQL requires), foreign key and grants, a partition
 * is created for every month that holds rows, every row is copied, and the old table dropped. Nothing
 * else references market_bars by OID (no view, no foreign key to it, no trigger), and every query
 * names it, so the read model, gap queries and the legacy migration read the parent unchanged.
 */
const MIGRATION_UNIT_DEFAULT: PartitionUnit = 'month';

/** The partition unit a new install gets, validated like any other variable. */
function unitFromEnv(): PartitionUnit {
  const env = new EnvReader();
  const unit = env.oneOf(
    'BI_BAR_PARTITION_UNIT',
    MIGRATION_UNIT_DEFAULT,
    PARTITION_UNITS,
    'span of one market_bars partition, read once by the migration that partitions the table',
  );
  env.check();
  return unit;
}

async function currentSchema(knex: Knex): Promise<string> {
  const { rows } = await knex.raw<{ rows: Array<{ schema: string }> }>('SELECT current_schema() AS schema');
  return rows[0]!.schema;
}

const COLUMNS = 'series_id, ts_utc, open, high, low, close, volume, source, revision, version_ts, updated_at';

/** The bar table's definition, shared by the partitioned parent and the plain table of `down`. */
function barColumns(): string {
  return `series_id bigint NOT NULL,
          ts_utc timestamptz NOT NULL,
          open double precision NOT NULL,
          high double precision NOT NULL,
          low double precision NOT NULL,
          close double precision NOT NULL,
          volume double precision NOT NULL,
          source text NOT NULL DEFAULT 'LIVE',
          revision integer NOT NULL DEFAULT 0,
          version_ts timestamptz NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
          CONSTRAINT market_bars_pkey PRIMARY KEY (series_id, ts_utc),
          CONSTRAINT market_bars_series_id_foreign FOREIGN KEY (series_id) REFERENCES market_series (id)`;
}

/** Functions that keep and describe the partitions; `schema` pins their search_path (they are SECURITY DEFINER). */
function partitionFunctions(schema: string): string[] {
  const path = `SET search_path = "${schema.replace(/"/g, '""')}", pg_catalog, pg_temp`;
  return [
    // The bounds of every partition, parsed from the catalog (the text form carries its UTC offset).
    `CREATE FUNCTION market_bar_partitions()
       RETURNS TABLE (partition_name text, from_utc timestamptz, to_utc timestamptz, is_default boolean)
       LANGUAGE sql STABLE ${path} SET TimeZone = 'UTC' SET DateStyle = 'ISO'
     AS $$
       SELECT c.relname::text,
              (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz,
              (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz,
              pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'market_bars'::regclass
        ORDER BY 2 NULLS LAST
     $$`,
    // Creates the partitions that [p_from, p_to) needs, one per unit (aligned in UTC), skipping what
    // existing partitions cover (so a changed unit only shapes new ones). Rows the DEFAULT partition
    // holds for a new partition's range move into it in the same transaction. Returns how many it
    // created. Concurrent callers (several workers starting at once) take turns on an advisory lock;
    // a lock wait longer than lock_timeout fails the call, which the caller retries later, rather
    // than queueing every writer of market_bars behind it.
    `CREATE FUNCTION ensure_market_bar_partitions(p_from timestamptz, p_to timestamptz)
       RETURNS integer
       LANGUAGE plpgsql SECURITY DEFINER ${path} SET TimeZone = 'UTC' SET lock_timeout = '5s'
     AS $$
     DECLARE
       v_unit text;
       v_step interval;
       v_slot timestamptz;
       v_slot_end timestamptz;
       v_lo timestamptz;
       v_hi timestamptz;
       v_name text;
       v_created integer := 0;
       v_has_default boolean;
     BEGIN
       IF p_from IS NULL OR p_to IS NULL OR p_to <= p_from THEN
         RETURN 0;
       END IF;
       PERFORM pg_advisory_xact_lock(hashtext('ensure_market_bar_partitions'));
       SELECT unit INTO STRICT v_unit FROM market_bar_partitioning;
       v_step := CASE v_unit WHEN 'quarter' THEN interval '3 months' ELSE ('1 ' || v_unit)::interval END;
       IF extract(epoch FROM p_to - p_from) / extract(epoch FROM v_step) > 2000 THEN
         RAISE EXCEPTION 'ensure_market_bar_partitions(%, %): more than 2000 % partitions; ask for a shorter range',
           p_from, p_to, v_unit USING ERRCODE = '22023';
       END IF;
       SELECT EXISTS (SELECT 1 FROM market_bar_partitions() WHERE is_default) INTO v_has_default;
       v_slot := date_trunc(v_unit, p_from);
       WHILE v_slot < p_to LOOP
         v_slot_end := v_slot + v_step;
         v_lo := v_slot;
         WHILE v_lo < v_slot_end LOOP
           SELECT to_utc INTO v_hi FROM market_bar_partitions()
            WHERE NOT is_default AND from_utc <= v_lo AND to_utc > v_lo;
           IF FOUND THEN
             v_lo := v_hi;
             CONTINUE;
           END IF;
           SELECT coalesce(min(from_utc), v_slot_end) INTO v_hi FROM market_bar_partitions()
            WHERE NOT is_default AND from_utc > v_lo AND from_utc < v_slot_end;
           v_name := 'market_bars_p' || to_char(v_lo, 'YYYYMMDD');
           EXECUTE format('CREATE TABLE %I (LIKE market_bars INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)', v_name);
           -- A constraint that proves the range lets ATTACH skip scanning the new partition.
           EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (ts_utc >= %L AND ts_utc < %L)',
                          v_name, v_name || '_range', v_lo, v_hi);
           IF v_has_default THEN
             EXECUTE format('WITH moved AS (DELETE FROM market_bars_default WHERE ts_utc >= %L AND ts_utc < %L RETURNING *)
                             INSERT INTO %I SELECT * FROM moved', v_lo, v_hi, v_name);
           END IF;
           EXECUTE format('ALTER TABLE market_bars ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', v_name, v_lo, v_hi);
           EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', v_name, v_name || '_range');
           v_created := v_created + 1;
           v_lo := v_hi;
         END LOOP;
         v_slot := v_slot_end;
       END LOOP;
       RETURN v_created;
     END
     $$`,
    // Rows in the DEFAULT partition (bars no partition covers), counted up to a cap so a scrape stays
    // cheap even if something went badly wrong.
    `CREATE FUNCTION market_bars_default_rows(p_cap bigint DEFAULT 1000000)
       RETURNS bigint
       LANGUAGE sql STABLE SECURITY DEFINER ${path}
     AS $$ SELECT count(*) FROM (SELECT 1 FROM market_bars_default LIMIT p_cap) t $$`,
  ];
}

const FUNCTIONS = [
  'ensure_market_bar_partitions(timestamptz, timestamptz)',
  'market_bars_default_rows(bigint)',
  'market_bar_partitions()',
];

export async function up(knex: Knex): Promise<void> {
  const unit = unitFromEnv();
  const schema = await currentSchema(knex);
  const role = workerRole();

  await knex.raw('ALTER TABLE market_bars RENAME TO market_bars_unpartitioned');
  await knex.raw('ALTER TABLE market_bars_unpartitioned RENAME CONSTRAINT market_bars_pkey TO market_bars_old_pkey');
  await knex.raw(
    'ALTER TABLE market_bars_unpartitioned RENAME CONSTRAINT market_bars_series_id_foreign TO market_bars_old_series_id_foreign',
  );
  await knex.raw(`CREATE TABLE market_bars (${barColumns()}) PARTITION BY RANGE (ts_utc)`);
  await knex.raw('CREATE TABLE market_bars_default PARTITION OF market_bars DEFAULT');

  await knex.raw(`CREATE TABLE market_bar_partitioning (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      unit text NOT NULL CHECK (unit IN (${PARTITION_UNITS.map((u) => `'${u}'`).join(', ')})),
      updated_at timestamptz NOT NULL DEFAULT now())`);
  await knex('market_bar_partitioning').insert({ unit });
  for (const sql of partitionFunctions(schema)) await knex.raw(sql);
  for (const fn of FUNCTIONS) await knex.raw(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
  for (const fn of FUNCTIONS) await knex.raw(`GRANT EXECUTE ON FUNCTION ${fn} TO ??`, [role]);

  // A partition for every unit that holds rows, and for the weeks around now, before the copy.
  await knex.raw(
    `SELECT ensure_market_bar_partitions(u, u + CASE p.unit WHEN 'quarter' THEN interval '3 months' ELSE ('1 ' || p.unit)::interval END)
       FROM market_bar_partitioning p,
            LATERAL (SELECT DISTINCT date_trunc(p.unit, ts_utc, 'UTC') AS u FROM market_bars_unpartitioned) d`,
  );
  await knex.raw(`SELECT ensure_market_bar_partitions(now() - interval '31 days', now() + interval '62 days')`);
  await knex.raw(`INSERT INTO market_bars (${COLUMNS}) SELECT ${COLUMNS} FROM market_bars_unpartitioned`);
  const { rows } = await knex.raw<{ rows: Array<{ before: string; after: string }> }>(
    `SELECT (SELECT count(*) FROM market_bars_unpartitioned) AS before, (SELECT count(*) FROM market_bars) AS after`,
  );
  if (rows[0]!.before !== rows[0]!.after)
    throw new Error(`market_bars copy: ${rows[0]!.after} rows of ${rows[0]!.before}, rolling back`);
  await knex.raw('DROP TABLE market_bars_unpartitioned');

  await grantToWorker(knex, 'market_bars', ['SELECT', 'INSERT', 'UPDATE'], role);
  await knex.raw('ANALYZE market_bars');
}

/** Back to one plain table, every row copied. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE market_bars RENAME TO market_bars_partitioned');
  await knex.raw('ALTER TABLE market_bars_partitioned RENAME CONSTRAINT market_bars_pkey TO market_bars_part_pkey');
  await knex.raw(
    'ALTER TABLE market_bars_partitioned RENAME CONSTRAINT market_bars_series_id_foreign TO market_bars_part_series_id_foreign',
  );
  await knex.raw(`CREATE TABLE market_bars (${barColumns()})`);
  await knex.raw(`INSERT INTO market_bars (${COLUMNS}) SELECT ${COLUMNS} FROM market_bars_partitioned`);
  await knex.raw('DROP TABLE market_bars_partitioned');
  for (const fn of FUNCTIONS) await knex.raw(`DROP FUNCTION IF EXISTS ${fn}`);
  await knex.raw('DROP TABLE market_bar_partitioning');
  await grantToWorker(knex, 'market_bars', ['SELECT', 'INSERT', 'UPDATE']);
}
