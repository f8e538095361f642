import type { Knex } from 'knex';
import referenceData from '../data/reference-data.json';
import { readCalendarFiles, seedCalendars } from '../shared/adapters/calendar-store';

/**
 * Trading calendars as data: a calendar's weekly session in local time, its holidays and early
 * closes, and which venues (and symbol patterns) follow it, seeded from data/calendars/*.json. A
 * deployment adds its own with SQL or `make calendars-seed FILE=...`, no release needed. Venues
 * without a calendar are always open. Open gaps detected before a venue had a calendar are
 * re-evaluated by `make calendars-reevaluate`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('trading_calendars', (t) => {
    t.text('name').primary();
    t.text('description').notNullable().defaultTo('');
    t.text('time_zone').notNullable();
    // A trading date's session opens at session_open, session_open_days_before days earlier
    // (CME: 17:00 the evening before), and closes at session_close on the date, local time.
    t.text('session_open').notNullable();
    t.integer('session_open_days_before').notNullable().defaultTo(0);
    t.text('session_close').notNullable();
    t.specificType('weekdays', 'text[]').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('trading_calendar_days', (t) => {
    t.text('calendar').notNullable().references('trading_calendars.name').onDelete('CASCADE').onUpdate('CASCADE');
    t.date('day').notNullable();
    // HOLIDAY: no session for that trading date; EARLY_CLOSE: it closes at close_local.
    t.text('kind').notNullable().checkIn(['HOLIDAY', 'EARLY_CLOSE']);
    t.text('close_local');
    t.text('name').notNullable().defaultTo('');
    t.primary(['calendar', 'day']);
  });
  await knex.schema.createTable('venue_calendars', (t) => {
    t.increments('id');
    // Matched case-insensitively against market_series.venue; a venue may get a calendar before
    // it is registered.
    t.text('venue').notNullable();
    // Regular expression over the canonical symbol; '' for the whole venue.
    t.text('symbol_pattern').notNullable().defaultTo('');
    t.text('calendar').notNullable().references('trading_calendars.name').onUpdate('CASCADE');
    t.unique(['venue', 'symbol_pattern']);
  });
  // Venues added to the reference data since the first migration (NYSE), for existing installs.
  for (const v of referenceData.venues) {
    await knex('venues').insert({ name: v.name, quote_currencies: v.quotes }).onConflict('name').ignore();
  }
  await seedCalendars(knex, readCalendarFiles());
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('venue_calendars');
  await knex.schema.dropTableIfExists('trading_calendar_days');
  await knex.schema.dropTableIfExists('trading_calendars');
}
