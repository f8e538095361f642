/**
 * Makes a stack ready for the workers, idempotently: migrations (as the admin role), topics with
 * the partition counts the design needs, and every schema in schemas/ registered under
 * `<topic>-value`. `scripts/prepare.ts` is the command; tests and the benchmark call these for
 * their own topics.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createKafka, ensureTopics, topicSpecs } from './kafka';
import { createKnex, migrateLatest } from './postgres';
import { readSchema, registryFetch, RegistryCodec, SCHEMAS_DIR, SCHEMA_FILES } from './registry';
import { LEGACY_BAR_SCHEMA_FILE } from './schema-compatibility';
import type { Connections, Topics } from '../runtime/connections';
import type { Logger } from '../runtime/log';

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

/**
 * Registers Bar v1 under the bars subject, then Bar v2, so a new subject's history is v1 -> v2 and
 * a legacy exporter's v1 id exists. On a subject that already holds versions without v1, v1 is not
 * appended: it would become "latest" after v2 and mislead every tool that reads the latest
 * version; a legacy exporter that registers v1 itself is still accepted (BACKWARD). Registering an
 * already-registered schema returns its id and adds no version, so this is idempotent.
 */
export async function registerBarSchemas(c: Connections): Promise<{ v1: number | null; v2: number }> {
  const codec = new RegistryCodec(c.registry);
  const read = (file: string): string => fs.readFileSync(path.join(SCHEMAS_DIR, file), 'utf8');
  const subject = encodeURIComponent(`${c.topics.bars}-value`);
  const legacy = read(LEGACY_BAR_SCHEMA_FILE);
  let v1: number | null = null;
  const versions = await registryFetch(c.registry, `/subjects/${subject}/versions`);
  if (versions.status === 404) {
    v1 = await codec.register(c.topics.bars, legacy);
  } else {
    const found = await registryFetch(c.registry, `/subjects/${subject}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: legacy, schemaType: 'AVRO' }),
    });
    if (found.ok) v1 = ((await found.json()) as { id: number }).id;
  }
  const v2 = await codec.register(c.topics.bars, read(SCHEMA_FILES.bars));
  return { v1, v2 };
}
