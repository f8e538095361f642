/**
 * Checks that every Avro schema in schemas/ is compatible with what the registry holds under its
 * `<topic>-value` subject, through the registry's compatibility API, before anything registers it.
 * Run by `make test` (and `make prepare`), so an incompatible change fails the build with the name
 * of the offending field instead of a bare 409 at registration time.
 *
 * Usage: tsx scripts/check-schemas.ts [--dir schemas]
 */
import path from 'node:path';
import { SCHEMAS_DIR } from '../shared/adapters/registry';
import { checkSchemas, formatResult, SchemaCheckResult } from '../shared/adapters/schema-compatibility';
import { ArgsError, parseArgs } from '../shared/runtime/args';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { handleHelp, loadConfigOrExit } from '../shared/runtime/process';

async function main(): Promise<void> {
  const usage =
    'usage: tsx scripts/check-schemas.ts [--dir <schemas dir>] [--quiet]\n\n' +
    'Checks every schema in the directory (default: schemas/) against what the registry holds under its\n' +
    '<topic>-value subject (BACKWARD compatibility API). Exits 1 naming each offending field. --quiet\n' +
    'prints only failures and the verdict.';
  handleHelp(process.argv.slice(2), usage, (env) => readConnections(env, 'bar-ingest-check-schemas'));
  let args: { dir: string; quiet: boolean };
  try {
    args = parseArgs(process.argv.slice(2), { dir: SCHEMAS_DIR, quiet: false });
  } catch (err) {
    if (err instanceof ArgsError) {
      process.stderr.write(`${err.message}\n${usage}\n`);
      process.exit(2);
    }
    throw err;
  }
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-check-schemas'));
  let result: SchemaCheckResult;
  try {
    result = await checkSchemas({ dir: path.resolve(args.dir), registryUrl: c.registry, topics: c.topics });
  } catch (err) {
    // fetch says only "fetch failed"; say where and what to do.
    if (err instanceof TypeError) {
      process.stderr.write(`schema registry at ${c.registryUrl} is not reachable (${err.message}); run \`make up\`\n`);
      process.exit(1);
    }
    throw err;
  }
  process.stdout.write(`${formatResult(result, args.quiet)}\n`);
  process.exit(result.ok ? 0 : 1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`check-schemas failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
