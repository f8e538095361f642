/**
 * Makes the stack ready for the workers, idempotently: migrations (as the admin role), topics with
 * the partition counts the design needs, and every schema in schemas/ registered under
 * `<topic>-value`. Usage: tsx scripts/prepare.ts [migrate|topics|schemas|all]
 */
import { createKafka, ensureTopics, topicSpecs } from '../shared/adapters/kafka';
import { createKnex, migrateLatest } from '../shared/adapters/postgres';
import { readSchema, RegistryCodec, SCHEMA_FILES } from '../shared/adapters/registry';
import { Connections, readConnections, Topics } from '../shared/runtime/connections';
import { EnvReader } from '../shared/runtime/config';
import { createLogger, Logger } from '../shared/runtime/log';
import { loadConfigOrExit } from '../shared/runtime/process';
import { registerBarSchemas } from './check-schemas';

export async function migrate(c: Connections): Promise<string[]> {
  const knex = createKnex(c.pgAdmin, { min: 0, max: 1 });
  try {
    return await migrateLatest(knex);
  } finally {
    await knex.destroy();
  }
}

export async function createTopics(c: Connections, log: Logger): Promise<string[]> {
  const admin = createKafka(c.kafka, log).admin();
  await admin.connect();
  try {
    return await ensureTopics(admin, topicSpecs(c.topics));
  } finally {
    await admin.disconnect();
  }
}

export async function registerSchemas(c: Connections): Promise<Record<string, number>> {
  const codec = new RegistryCodec(c.registry);
  const ids: Record<string, number> = {};
  // Bar v1 (the legacy message) first, so the bars subject's history is v1 -> v2 (BACKWARD).
  const { v1 } = await registerBarSchemas(c);
  if (v1 !== null) ids[`${c.topics.bars}-value (Bar v1)`] = v1;
  for (const [topicName, file] of Object.entries(SCHEMA_FILES) as Array<[keyof Topics, string]>) {
    const topic = c.topics[topicName];
    ids[`${topic}-value`] = await codec.register(topic, readSchema(file));
  }
  return ids;
}

async function main(): Promise<void> {
  const what = process.argv[2] ?? 'all';
  if (!['migrate', 'topics', 'schemas', 'all'].includes(what)) {
    process.stderr.write('usage: tsx scripts/prepare.ts [migrate|topics|schemas|all]\n');
    process.exit(2);
  }
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-prepare'));
  const log = createLogger({ tool: 'prepare' });
  if (what === 'migrate' || what === 'all') {
    const applied = await migrate(c);
    process.stdout.write(`migrations: ${applied.length ? applied.join(', ') : 'up to date'}\n`);
  }
  if (what === 'topics' || what === 'all') {
    const created = await createTopics(c, log);
    process.stdout.write(`topics: ${created.length ? 'created ' + created.join(', ') : 'all present'}\n`);
  }
  if (what === 'schemas' || what === 'all') {
    const ids = await registerSchemas(c);
    process.stdout.write(
      `schemas: ${Object.entries(ids)
        .map(([s, id]) => `${s}=${id}`)
        .join(', ')}\n`,
    );
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`prepare failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
