import { expect } from 'chai';
import { baseConnections, db } from '../support/stack';

/**
 * The worker role's rights, as PostgreSQL reports them after the migrations. A table not listed
 * here must give the worker nothing; a migration that grants a new table adds it here.
 */
const EXPECTED: Record<string, string[]> = {
  providers: ['SELECT', 'INSERT', 'UPDATE'],
  venues: ['SELECT', 'INSERT', 'UPDATE'],
  symbol_aliases: ['SELECT'],
  market_series: ['SELECT', 'INSERT', 'UPDATE'],
  market_bars: ['SELECT', 'INSERT', 'UPDATE'],
  strategy_runs: ['SELECT', 'INSERT', 'UPDATE'],
  run_subscriptions: ['SELECT', 'INSERT', 'UPDATE'],
  data_gaps: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  connection_sessions: ['SELECT', 'INSERT', 'UPDATE'],
  trading_calendars: ['SELECT'],
  trading_calendar_days: ['SELECT'],
  venue_calendars: ['SELECT'],
  data_gap_events: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  reference_data_version: ['SELECT', 'UPDATE'],
};
const ALL = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'];

describe('least privilege: the worker role', () => {
  const role = baseConnections.pgWorker.user;

  it('has exactly the rights the worker code uses on each table, and none on any other (knex_migrations included)', async () => {
    const { rows } = await db().raw<{ rows: Array<{ table: string; privilege: string }> }>(
      `SELECT c.relname AS table, p.privilege
         FROM pg_class c CROSS JOIN unnest(?::text[]) AS p(privilege)
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v')
          AND has_table_privilege(?, c.oid, p.privilege)
        ORDER BY 1, 2`,
      [ALL, role],
    );
    const actual: Record<string, string[]> = {};
    for (const r of rows) (actual[r.table] ??= []).push(r.privilege);
    const expected = Object.fromEntries(Object.entries(EXPECTED).map(([t, p]) => [t, [...p].sort()]));
    expect(actual).to.deep.equal(expected);
    const tables = (
      await db().raw<{ rows: Array<{ t: string }> }>(
        `SELECT relname AS t FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname LIKE 'knex_migrations%'`,
      )
    ).rows.map((r) => r.t);
    expect(tables).to.include.members(['knex_migrations', 'knex_migrations_lock']);
  });

  it('may not create tables or temporary tables, and may use the sequences of the tables it inserts into', async () => {
    const { rows } = await db().raw<{ rows: Array<Record<string, boolean>> }>(
      `SELECT has_database_privilege(?, current_database(), 'TEMPORARY') AS temp,
              has_database_privilege(?, current_database(), 'CREATE') AS create_schema,
              has_schema_privilege(?, 'public', 'CREATE') AS create_table,
              has_sequence_privilege(?, 'market_series_id_seq', 'USAGE') AS series_seq,
              has_sequence_privilege(?, 'symbol_aliases_id_seq', 'USAGE') AS alias_seq`,
      [role, role, role, role, role],
    );
    expect(rows[0]).to.deep.equal({
      temp: false,
      create_schema: false,
      create_table: false,
      series_seq: true,
      alias_seq: false,
    });
  });
});
