import type { Knex } from 'knex';
import { grantToWorker, workerRole } from '../shared/adapters/privileges';

/**
 * The workers read the trading calendars (gap detection, settlement, re-evaluation); only the
 * admin role seeds them. A separate migration because the calendars and the least-privilege
 * migration were written side by side: this one runs after both on any install.
 */
const CALENDAR_TABLES = ['trading_calendars', 'trading_calendar_days', 'venue_calendars'];

export async function up(knex: Knex): Promise<void> {
  for (const table of CALENDAR_TABLES) await grantToWorker(knex, table, ['SELECT'], workerRole());
}

export async function down(knex: Knex): Promise<void> {
  for (const table of CALENDAR_TABLES) await knex.raw('REVOKE ALL ON ?? FROM ??', [table, workerRole()]);
}
