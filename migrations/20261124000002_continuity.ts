import type { Knex } from 'knex';

/** Every gap ever detected, and the exporter's online/offline periods that classify them. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('data_gaps', (t) => {
    // Deterministic (series and first missing open time at detection), so a redelivered flush
    // or a second worker finds the same id and inserts nothing.
    t.text('gap_id').primary();
    t.bigInteger('series_id').notNullable().references('market_series.id');
    t.timestamp('from_utc', { useTz: true }).notNullable();
    t.timestamp('to_utc', { useTz: true }).notNullable();
    t.integer('missing_bars').notNullable();
    t.text('kind').notNullable().defaultTo('UNKNOWN').checkIn(['OFFLINE', 'NO_ACTIVITY', 'UNKNOWN']);
    t.text('status')
      .notNullable()
      .defaultTo('OPEN')
      .checkIn(['OPEN', 'BACKFILL_REQUESTED', 'FILLED', 'NO_DATA', 'UNFILLABLE']);
    t.timestamp('detected_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Outbox: a DataGap event is due while event_version > published_version. Publishing marks it
    // after the broker acknowledged, so a crash republishes rather than loses an event.
    t.integer('event_version').notNullable().defaultTo(1);
    t.integer('published_version').notNullable().defaultTo(0);
  });
  await knex.raw('CREATE INDEX data_gaps_series_range ON data_gaps (series_id, from_utc, to_utc)');
  await knex.raw('CREATE INDEX data_gaps_unpublished ON data_gaps (series_id) WHERE event_version > published_version');

  await knex.schema.createTable('connection_sessions', (t) => {
    t.bigIncrements('id');
    t.text('provider').notNullable();
    t.text('venue').notNullable();
    t.text('status').notNullable().checkIn(['CONNECTED', 'DISCONNECTED']);
    t.timestamp('from_utc', { useTz: true }).notNullable();
    // Null while the period is still going on.
    t.timestamp('to_utc', { useTz: true });
    t.unique(['provider', 'venue', 'from_utc']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('connection_sessions');
  await knex.schema.dropTableIfExists('data_gaps');
}
