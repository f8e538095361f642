import knexFactory, { Knex } from 'knex';
import path from 'node:path';
import type { PgSettings } from '../runtime/connections';

export function createKnex(pg: PgSettings, pool: { min: number; max: number } = { min: 0, max: 4 }): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      host: pg.host,
      port: pg.port,
      database: pg.database,
      user: pg.user,
      password: pg.password,
      application_name: 'bar-ingest',
      ...(pg.statementTimeoutMs ? { statement_timeout: pg.statementTimeoutMs } : {}),
    },
    pool,
    acquireConnectionTimeout: 10_000,
    // knex prints pool errors with console.warn; the callers log failures (with context) themselves.
    log: { warn: () => undefined, error: () => undefined, deprecate: () => undefined, debug: () => undefined },
  });
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
