import type { Knex } from 'knex';

/**
 * Indexes for the read API (workers/read-api), which answers from data_gaps and never from
 * market_bars: a series' gap counts by status and kind come from an index-only scan, and the
 * list of all gaps (newest first, any filter) walks gaps in time order instead of sorting them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'CREATE INDEX IF NOT EXISTS data_gaps_series_state ON data_gaps (series_id, status, kind) INCLUDE (missing_bars)',
  );
  await knex.raw('CREATE INDEX IF NOT EXISTS data_gaps_from ON data_gaps (from_utc)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS data_gaps_from');
  await knex.raw('DROP INDEX IF EXISTS data_gaps_series_state');
}
