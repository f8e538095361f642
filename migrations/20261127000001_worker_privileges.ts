import type { Knex } from 'knex';
import { grantToWorker, TablePrivilege, workerRole } from '../shared/adapters/privileges';

/**
 * Least privilege for the workers' role. Until now the stack's bootstrap granted SELECT, INSERT,
 * UPDATE and DELETE on every table (knex_migrations included) through default privileges, and
 * PUBLIC could create temporary tables. From here on the migrations are the only source of the
 * worker's rights: each table it uses is granted below or in the migration that creates it
 * (shared/adapters/privileges.ts has the rule).
 *
 * DELETE only on data_gaps: the gap store deletes a gap that late bars split or fill
 * (shared/adapters/gap-store.ts). The legacy migration tables and knex_migrations* get nothing:
 * the legacy migration and the migrations run as the admin role.
 */
const WORKER_TABLES: Record<string, TablePrivilege[]> = {
  providers: ['SELECT', 'INSERT', 'UPDATE'],
  venues: ['SELECT', 'INSERT', 'UPDATE'],
  symbol_aliases: ['SELECT'],
  market_series: ['SELECT', 'INSERT', 'UPDATE'],
  market_bars: ['SELECT', 'INSERT', 'UPDATE'],
  strategy_runs: ['SELECT', 'INSERT', 'UPDATE'],
  run_subscriptions: ['SELECT', 'INSERT', 'UPDATE'],
  data_gaps: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  connection_sessions: ['SELECT', 'INSERT', 'UPDATE'],
};

/** The database, and the schema the migrations run in (public, unless a search_path says otherwise). */
async function where(knex: Knex): Promise<{ db: string; schema: string }> {
  const { rows } = await knex.raw<{ rows: Array<{ db: string; schema: string }> }>(
    'SELECT current_database() AS db, current_schema() AS schema',
  );
  return rows[0]!;
}

export async function up(knex: Knex): Promise<void> {
  const role = workerRole();
  const { db, schema } = await where(knex);
  // Default privileges the bootstrap of earlier versions set for tables the admin role creates.
  await knex.raw('ALTER DEFAULT PRIVILEGES IN SCHEMA ?? REVOKE ALL ON TABLES FROM ??', [schema, role]);
  await knex.raw('ALTER DEFAULT PRIVILEGES IN SCHEMA ?? REVOKE ALL ON SEQUENCES FROM ??', [schema, role]);
  await knex.raw('REVOKE ALL ON ALL TABLES IN SCHEMA ?? FROM ??', [schema, role]);
  await knex.raw('REVOKE ALL ON ALL SEQUENCES IN SCHEMA ?? FROM ??', [schema, role]);
  await knex.raw('REVOKE CREATE ON SCHEMA ?? FROM ??', [schema, role]);
  // TEMP is granted to PUBLIC by default; the workers never create temporary tables.
  await knex.raw('REVOKE TEMPORARY ON DATABASE ?? FROM PUBLIC', [db]);
  await knex.raw('REVOKE TEMPORARY ON DATABASE ?? FROM ??', [db, role]);
  for (const [table, privileges] of Object.entries(WORKER_TABLES)) await grantToWorker(knex, table, privileges, role);
}

/** Back to the broad rights of earlier versions. */
export async function down(knex: Knex): Promise<void> {
  const role = workerRole();
  const { db, schema } = await where(knex);
  await knex.raw('GRANT TEMPORARY ON DATABASE ?? TO PUBLIC', [db]);
  await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ?? TO ??', [schema, role]);
  await knex.raw('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ?? TO ??', [schema, role]);
  await knex.raw('ALTER DEFAULT PRIVILEGES IN SCHEMA ?? GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ??', [
    schema,
    role,
  ]);
  await knex.raw('ALTER DEFAULT PRIVILEGES IN SCHEMA ?? GRANT USAGE, SELECT ON SEQUENCES TO ??', [schema, role]);
}
