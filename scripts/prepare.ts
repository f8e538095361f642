/**
 * Makes the stack ready for the workers, idempotently: migrations (as the admin role), topics with
 * the partition counts the design needs, and every schema in schemas/ registered under
 * `<topic>-value` (shared/adapters/provisioning.ts). Usage: tsx scripts/prepare.ts [migrate|topics|schemas|all]
 */
import { createTopics, migrate, registerSchemas } from '../shared/adapters/provisioning';
import { readConnections } from '../shared/runtime/connections';
import { EnvReader } from '../shared/runtime/config';
import { createLogger } from '../shared/runtime/log';
import { loadConfigOrExit } from '../shared/runtime/process';

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
