/**
 * What the workers' PostgreSQL role may do, granted table by table by the migrations (never by
 * default privileges), so the same rights hold in every deployment and nothing is granted to a
 * table nobody thought about.
 *
 * The rule for a migration that creates a table the workers use: grant it in the same migration,
 * `await grantToWorker(knex, 'my_table', ['SELECT', 'INSERT', 'UPDATE'])`, with DELETE only if
 * worker code deletes from it. A table without a grant is invisible to the workers (permission
 * denied); test/integration/privileges.test.ts lists what the worker may do on each table and
 * fails, naming the table, when the database says otherwise.
 */
import type { Knex } from 'knex';
import { EnvReader } from '../runtime/config';

export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/**
 * The worker role's name, from the same variable the workers log in with. Migrations run as the
 * admin role and read it here, so a deployment that names its roles differently needs no edit.
 */
export function workerRole(env: EnvReader = new EnvReader()): string {
  return env.string('BI_PG_WORKER_USER', 'bar_ingest_worker', 'least-privilege PostgreSQL role of the workers');
}

async function assertRoleExists(knex: Knex, role: string): Promise<void> {
  const { rows } = await knex.raw<{ rows: unknown[] }>('SELECT 1 FROM pg_roles WHERE rolname = ?', [role]);
  if (rows.length === 0) {
    throw new Error(
      `PostgreSQL role ${JSON.stringify(role)} (BI_PG_WORKER_USER) does not exist: create it (LOGIN) before migrating`,
    );
  }
}

/**
 * Sets the worker role's rights on one table to exactly `privileges` (revoking anything else),
 * plus USAGE on the sequences behind its serial columns when it may INSERT.
 */
export async function grantToWorker(
  knex: Knex,
  table: string,
  privileges: TablePrivilege[],
  role: string = workerRole(),
): Promise<void> {
  await assertRoleExists(knex, role);
  await knex.raw('REVOKE ALL ON TABLE ?? FROM ??', [table, role]);
  if (privileges.length > 0) await knex.raw(`GRANT ${privileges.join(', ')} ON TABLE ?? TO ??`, [table, role]);
  const { rows } = await knex.raw<{ rows: Array<{ seq: string }> }>(
    `SELECT s.relname AS seq FROM pg_class s
       JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
       JOIN pg_class t ON t.oid = d.refobjid
      WHERE s.relkind = 'S' AND t.relname = ? AND t.relnamespace = current_schema()::regnamespace`,
    [table],
  );
  for (const { seq } of rows) {
    await knex.raw('REVOKE ALL ON SEQUENCE ?? FROM ??', [seq, role]);
    if (privileges.includes('INSERT')) await knex.raw('GRANT USAGE ON SEQUENCE ?? TO ??', [seq, role]);
  }
}
