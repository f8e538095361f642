/**
 * The legacy migration command: wires configuration to LegacyMigrator (core.ts) and renders its
 * progress and report. Run with --help for the commands and every variable.
 */
import { createKnex } from '../../shared/adapters/postgres';
import { formatReport, progressLine } from '../../shared/domain/legacy';
import { handleHelp, loadConfigOrExit } from '../../shared/runtime/process';
import { readLegacyMigrationConfig } from './config';
import { LegacyMigrationError, LegacyMigrator } from './core';
import { LegacyStore, prepareSchema } from '../../shared/adapters/legacy-store';
import { describeFailure, EXIT_OUTAGE_BUDGET, isTransient } from '../../shared/runtime/failures';

const USAGE = `bar-ingest legacy migration

Usage: tsx workers/legacy-migration/main.ts <command> [--help]

Commands:
  migrate       bring the schema up to date (a legacy store that never ran a migration gets its
                strategy_runs renamed to strategy_runs_legacy first), then convert the legacy per-run store in place:
                market_series, market_bars (deduplicated), run_subscriptions, run_series mapping.
                Runs in chunks with a progress bar; Ctrl-C stops after the current chunk and a
                second run resumes. Ends with the verification report.
  report        recount and print the verification report (changes nothing but the stored report)
  drop-legacy   drop the legacy bar table, only if a fresh verification passes

Provider and venue come only from BI_LEGACY_MAPPING / BI_LEGACY_MAPPING_FILE; rows without a
mapping are reported (run_series.unmapped_reason) and left in place, never guessed.
Conflicting values across runs: see legacy_bar_conflicts; the rule is in docs/exporter-contract.md.`;

const COMMANDS = ['migrate', 'report', 'drop-legacy'] as const;
type Command = (typeof COMMANDS)[number];

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  handleHelp(argv, USAGE, readLegacyMigrationConfig);
  const command = argv[0] as Command | undefined;
  if (argv.length !== 1 || !command || !COMMANDS.includes(command)) {
    process.stderr.write(`expected one command: ${COMMANDS.join(', ')}\n\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfigOrExit(readLegacyMigrationConfig);
  // The owner role: the migration creates series and the final command drops a table.
  const knex = createKnex(config.connections.pgAdmin, { min: 0, max: 2 });
  const controller = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\nstopping after the current chunk; run `migrate` again to resume\n');
    controller.abort();
  });
  process.once('SIGTERM', () => controller.abort());
  const tty = process.stderr.isTTY === true;
  let lastLog = 0;
  const migrator = new LegacyMigrator(new LegacyStore(knex, config.legacyTable), {
    mapping: config.mapping,
    chunkBars: config.chunkBars,
    signal: controller.signal,
    onRetry: (err, delayMs) =>
      process.stderr.write(`\ndatabase failing (${describeFailure(err)}); retrying the chunk in ${delayMs} ms\n`),
    onProgress: ({ done, total }) => {
      // A redrawn bar on a terminal; one line every few seconds in a log.
      if (tty) process.stderr.write(`\r${progressLine(done, total)}`);
      else if (Date.now() - lastLog > 5_000 || done >= total) {
        lastLog = Date.now();
        process.stderr.write(`${progressLine(done, total)}\n`);
      }
    },
  });
  try {
    if (command === 'migrate') {
      for (const step of await prepareSchema(knex)) process.stderr.write(`${step}\n`);
      const outcome = await migrator.migrate();
      if (tty) process.stderr.write('\n');
      process.stdout.write(`run_series rows mapped now: ${outcome.mapped}, unmapped: ${outcome.unmapped}\n`);
      if (!outcome.completed) {
        process.stdout.write(`interrupted after ${outcome.chunks} chunks; run \`migrate\` again to resume\n`);
        return 130;
      }
      process.stdout.write(`${formatReport(outcome.report!, config.legacyTable)}\n`);
      return 0;
    }
    if (command === 'report') {
      process.stdout.write(`${formatReport(await migrator.verify(), config.legacyTable)}\n`);
      return 0;
    }
    const report = await migrator.dropLegacy();
    process.stdout.write(`${formatReport(report, config.legacyTable)}\ndropped ${config.legacyTable}\n`);
    return 0;
  } catch (err) {
    if (err instanceof LegacyMigrationError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    if (isTransient(err)) {
      process.stderr.write(
        `the database kept failing past the outage budget (${describeFailure(err)}); nothing is lost: run \`${command}\` again to resume\n`,
      );
      return EXIT_OUTAGE_BUDGET;
    }
    throw err;
  } finally {
    await knex.destroy();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`legacy migration failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
