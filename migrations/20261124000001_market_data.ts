import type { Knex } from 'knex';
import referenceData from '../data/reference-data.json';

/**
 * The shared store: one row per series and per bar, registries for providers and venues (with the
 * data that drives symbol normalization), and which strategy run uses which series.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('providers', (t) => {
    t.increments('id');
    t.text('name').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE UNIQUE INDEX providers_name_ci ON providers (lower(name))');

  await knex.schema.createTable('venues', (t) => {
    t.increments('id');
    t.text('name').notNullable().unique();
    t.specificType('quote_currencies', 'text[]').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE UNIQUE INDEX venues_name_ci ON venues (lower(name))');

  await knex.schema.createTable('symbol_aliases', (t) => {
    t.increments('id');
    t.integer('venue_id').notNullable().references('venues.id').onDelete('CASCADE');
    // ASSET maps one asset spelling (XBT -> BTC); TICKER maps a whole ticker (XXBTZUSD -> BTC/USD).
    t.text('kind').notNullable().checkIn(['ASSET', 'TICKER']);
    t.text('alias').notNullable();
    t.text('canonical').notNullable();
    t.unique(['venue_id', 'kind', 'alias']);
  });

  await knex.schema.createTable('market_series', (t) => {
    t.bigIncrements('id');
    t.text('symbol').notNullable();
    t.text('timeframe').notNullable();
    t.text('provider').notNullable().references('providers.name').onUpdate('CASCADE');
    t.text('venue').notNullable().references('venues.name').onUpdate('CASCADE');
    // Open times of the first and last stored bar.
    t.timestamp('start_utc', { useTz: true });
    t.timestamp('end_utc', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['symbol', 'timeframe', 'provider', 'venue']);
  });

  await knex.schema.createTable('market_bars', (t) => {
    t.bigInteger('series_id').notNullable().references('market_series.id');
    t.timestamp('ts_utc', { useTz: true }).notNullable();
    t.double('open').notNullable();
    t.double('high').notNullable();
    t.double('low').notNullable();
    t.double('close').notNullable();
    t.double('volume').notNullable();
    t.text('source').notNullable().defaultTo('LIVE');
    // How many times a correction changed this bar.
    t.integer('revision').notNullable().defaultTo(0);
    // Produce time of the message that wrote the current values: an older one never overwrites.
    t.timestamp('version_ts', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['series_id', 'ts_utc']);
  });

  await knex.schema.createTable('strategy_runs', (t) => {
    t.text('id').primary();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('run_subscriptions', (t) => {
    t.bigIncrements('id');
    t.text('run_id').notNullable().references('strategy_runs.id');
    t.bigInteger('series_id').notNullable().references('market_series.id');
    // First and last bar open time this run has seen in this series.
    t.timestamp('first_bar_utc', { useTz: true }).notNullable();
    t.timestamp('last_bar_utc', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['run_id', 'series_id']);
  });
  await knex.raw('CREATE INDEX run_subscriptions_series ON run_subscriptions (series_id)');

  for (const name of referenceData.providers) {
    await knex('providers').insert({ name }).onConflict('name').ignore();
  }
  for (const v of referenceData.venues) {
    const [row] = await knex('venues')
      .insert({ name: v.name, quote_currencies: v.quotes })
      .onConflict('name')
      .merge(['quote_currencies'])
      .returning<Array<{ id: number }>>('id');
    const aliases = [
      ...Object.entries(v.assetAliases).map(([alias, canonical]) => ({ kind: 'ASSET', alias, canonical })),
      ...Object.entries(v.tickerAliases).map(([alias, canonical]) => ({ kind: 'TICKER', alias, canonical })),
    ].map((a) => ({ ...a, venue_id: row!.id }));
    if (aliases.length > 0)
      await knex('symbol_aliases').insert(aliases).onConflict(['venue_id', 'kind', 'alias']).ignore();
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'run_subscriptions',
    'strategy_runs',
    'market_bars',
    'market_series',
    'symbol_aliases',
    'venues',
    'providers',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
