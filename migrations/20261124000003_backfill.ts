import type { Knex } from 'knex';

/** Backfill bookkeeping on each gap: history requests sent, when to retry, the exporter's answer. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('data_gaps', (t) => {
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_request_id');
    t.timestamp('next_request_at', { useTz: true });
    t.timestamp('response_at', { useTz: true });
    t.text('response_status');
  });
  await knex.raw(
    `CREATE INDEX data_gaps_backfill ON data_gaps (next_request_at) WHERE status IN ('OPEN', 'BACKFILL_REQUESTED')`,
  );
  await knex.raw('CREATE UNIQUE INDEX data_gaps_last_request ON data_gaps (last_request_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS data_gaps_last_request');
  await knex.raw('DROP INDEX IF EXISTS data_gaps_backfill');
  await knex.schema.alterTable('data_gaps', (t) => {
    t.dropColumns('attempts', 'last_request_id', 'next_request_at', 'response_at', 'response_status');
  });
}
