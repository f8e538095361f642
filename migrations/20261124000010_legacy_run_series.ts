import type { Knex } from 'knex';

/**
 * run_series as the mapping of legacy (run_id, symbol, timeframe) onto market_series, plus the
 * bookkeeping of the legacy migration (workers/legacy-migration). A new install gets an empty
 * mapping table; a database that still has the legacy layout keeps its run_series rows, which gain
 * the mapping columns, so the conversion happens in place and the legacy rows are never copied.
 */
const CREATED_HERE = 'bar-ingest: run_series created by migration 20261124000010';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('run_series'))) {
    await knex.schema.createTable('run_series', (t) => {
      t.bigIncrements('id');
      t.text('run_id').notNullable();
      t.text('symbol').notNullable();
      t.text('timeframe').notNullable();
      t.unique(['run_id', 'symbol', 'timeframe']);
    });
    // Lets `down` tell a table it created from a legacy table it must never drop.
    await knex.raw(`COMMENT ON TABLE run_series IS '${CREATED_HERE}'`);
  }
  const has = async (column: string): Promise<boolean> => knex.schema.hasColumn('run_series', column);
  if (!(await has('id'))) {
    // The migration's chunks and its tie-break rule need a stable order of legacy rows.
    await knex.raw('ALTER TABLE run_series ADD COLUMN id bigserial UNIQUE');
  }
  const added: Array<[string, (t: Knex.AlterTableBuilder) => void]> = [
    ['provider', (t) => t.text('provider')],
    ['venue', (t) => t.text('venue')],
    ['series_id', (t) => t.bigInteger('series_id').references('market_series.id')],
    ['mapping_rule', (t) => t.text('mapping_rule')],
    ['unmapped_reason', (t) => t.text('unmapped_reason')],
    ['mapped_at', (t) => t.timestamp('mapped_at', { useTz: true })],
  ];
  for (const [column, add] of added) {
    if (!(await has(column))) await knex.schema.alterTable('run_series', add);
  }
  await knex.raw('CREATE INDEX IF NOT EXISTS run_series_series ON run_series (series_id)');

  // One row: where the migration stands, and the table sizes when it first started (kept across resumes).
  await knex.schema.createTable('legacy_migration', (t) => {
    t.integer('id').primary().checkPositive();
    t.text('legacy_table').notNullable();
    t.text('phase').notNullable().defaultTo('STARTED');
    t.jsonb('sizes_before').notNullable();
    t.jsonb('report');
    t.boolean('verified').notNullable().defaultTo(false);
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.timestamp('legacy_dropped_at', { useTz: true });
  });

  // Resume point per series: every bar with ts_utc <= last_ts_utc is migrated; bars_done counts distinct bars (one transaction per chunk).
  await knex.schema.createTable('legacy_migration_progress', (t) => {
    t.bigInteger('series_id').primary().references('market_series.id').onDelete('CASCADE');
    t.timestamp('last_ts_utc', { useTz: true });
    t.bigInteger('bars_done').notNullable().defaultTo(0);
    t.boolean('done').notNullable().defaultTo(false);
  });

  // Every bar on which runs disagreed: all variants (values and the runs holding each) and the one chosen.
  await knex.schema.createTable('legacy_bar_conflicts', (t) => {
    t.bigInteger('series_id').notNullable().references('market_series.id').onDelete('CASCADE');
    t.timestamp('ts_utc', { useTz: true }).notNullable();
    t.jsonb('chosen').notNullable();
    t.jsonb('variants').notNullable();
    t.text('rule').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['series_id', 'ts_utc']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['legacy_bar_conflicts', 'legacy_migration_progress', 'legacy_migration']) {
    await knex.schema.dropTableIfExists(table);
  }
  const { rows } = await knex.raw<{ rows: Array<{ comment: string | null }> }>(
    "SELECT obj_description('run_series'::regclass, 'pg_class') AS comment",
  );
  if (rows[0]?.comment === CREATED_HERE) {
    await knex.schema.dropTable('run_series');
    return;
  }
  // A legacy table: keep its rows, remove only what this migration added.
  await knex.raw('DROP INDEX IF EXISTS run_series_series');
  await knex.schema.alterTable('run_series', (t) => {
    t.dropColumns('provider', 'venue', 'series_id', 'mapping_rule', 'unmapped_reason', 'mapped_at');
  });
}
