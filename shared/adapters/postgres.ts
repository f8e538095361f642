import knexFactory, { Knex } from 'knex';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { PgSettings } from '../runtime/connections';
import type { PgSecurity } from '../runtime/security';

/**
 * node-postgres `ssl` for a libpq sslmode: require encrypts without checking the server;
 * verify-ca checks the chain against the CA but not the host name; verify-full checks both.
 */
export function pgSslOptions(security: PgSecurity | undefined): false | ConnectionOptions {
  switch (security?.sslmode ?? 'disable') {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, ca: security?.ca, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true, ca: security?.ca };
  }
}

/** The pg connection options of a role's settings (shared by knex pools and one-off clients). */
export function pgConnectionOptions(pg: PgSettings) {
  return {
    host: pg.host,
    port: pg.port,
    database: pg.database,
    user: pg.user,
    password: pg.password,
    ssl: pgSslOptions(pg.security),
    application_name: 'bar-ingest',
    ...(pg.statementTimeoutMs ? { statement_timeout: pg.statementTimeoutMs } : {}),
  };
}

export function createKnex(pg: PgSettings, pool: { min: number; max: number } = { min: 0, max: 4 }): Knex {
  return knexFactory({
    client: 'pg',
    connection: pgConnectionOptions(pg),
    pool,
    acquireConnectionTimeout: 10_000,
    // knex prints pool errors with console.warn; the callers log failures (with context) themselves.
    log: { warn: () => undefined, error: () => undefined, deprecate: () => undefined, debug: () => undefined },
  });
}

/** The part of a pooled node-postgres client that runPrepared uses. */
interface PreparingClient {
  query<R>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

/**
 * Runs a statement as a named prepared statement on one of knex's pooled connections, so
 * PostgreSQL parses and plans it once per connection instead of on every call. Only for the hot
 * statements (one per flush); everything else goes through knex. `text` uses $1..$n.
 */
export async function runPrepared<R>(knex: Knex, name: string, text: string, values: unknown[]): Promise<R[]> {
  const pool = knex.client as {
    acquireConnection(): Promise<PreparingClient>;
    releaseConnection(c: PreparingClient): Promise<void>;
  };
  const client = await pool.acquireConnection();
  try {
    return (await client.query<R>({ name, text, values })).rows;
  } finally {
    await pool.releaseConnection(client);
  }
}

export const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');

/** Applies every pending migration; returns the names applied. */
export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest({
    directory: MIGRATIONS_DIR,
    loadExtensions: ['.ts', '.js'],
  })) as [number, string[]];
  return applied;
}
