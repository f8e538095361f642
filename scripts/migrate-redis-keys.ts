/**
 * One-shot upgrade of the Redis last-bar state to the hash-tagged key names (issue 18), so an
 * install upgraded in place keeps its last bar times and unreleased claims. Idempotent; safe while
 * workers run. See shared/adapters/last-bar-migration.ts.
 *
 *   make migrate-redis-keys
 */
import { moveLegacyLastBarKeys } from '../shared/adapters/last-bar-migration';
import { createRedis } from '../shared/adapters/redis';
import { EnvReader } from '../shared/runtime/config';
import { readConnections, readRedisNamespace } from '../shared/runtime/connections';
import { handleHelp, loadConfigOrExit } from '../shared/runtime/process';

const USAGE = `Usage: tsx scripts/migrate-redis-keys.ts [--help]

Moves the ingest workers' last-bar state in Redis (namespace BI_REDIS_NAMESPACE) from the key
names before hash tags (<ns>last:<id>, <ns>claims:<id>) to <ns>last:{<id>} and <ns>claims:{<id>},
keeping the later last bar time and every unreleased claim. Run it once after upgrading the
workers (running it again moves nothing). A Redis Cluster never held the old names: nothing to do.`;

function readConfig(env: EnvReader) {
  const connections = readConnections(env, 'bar-ingest-migrate-redis');
  return { connections, namespace: readRedisNamespace(env, connections.topicPrefix) };
}

async function main(): Promise<void> {
  handleHelp(process.argv, USAGE, readConfig);
  const config = loadConfigOrExit(readConfig);
  const redis = createRedis(config.connections.redis, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  try {
    const moved = await moveLegacyLastBarKeys(redis, config.namespace);
    process.stdout.write(
      `redis keys (${config.namespace}): ${moved.series} series moved to hash-tagged names, ${moved.claims} unreleased claims kept\n`,
    );
  } finally {
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`migrate-redis-keys failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
