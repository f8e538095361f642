// For the knex CLI (`npx knex --knexfile knexfile.ts ...`); the project itself migrates with
// `make migrate` (scripts/migrate.ts), which uses the same settings.
import type { Knex } from 'knex';
import { EnvReader } from './shared/runtime/config';
import { readConnections } from './shared/runtime/connections';
import { MIGRATIONS_DIR } from './shared/adapters/postgres';

const env = new EnvReader();
const { pgAdmin } = readConnections(env, 'knexfile');
env.check();

const config: Knex.Config = {
  client: 'pg',
  connection: pgAdmin,
  migrations: { directory: MIGRATIONS_DIR, loadExtensions: ['.ts', '.js'] },
};

export default config;
module.exports = config;
