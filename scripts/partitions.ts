/**
 * The time partitions of market_bars, for operators (runs as the admin role):
 *
 *   make partitions                                        # list partitions, sizes, DEFAULT rows
 *   make partitions ARGS='ensure --from 2020-01-01'        # create partitions ahead of a history load
 *   make partitions ARGS='adopt-default'                   # move DEFAULT rows into partitions of their own
 *   make partitions ARGS='set-unit week'                   # span of partitions created from now on
 *   make retention OLDER_THAN='24 months' [APPLY=1]        # drop old partitions (dry run unless APPLY=1)
 */
import {
  adoptDefaultRows,
  applyRetention,
  BarPartition,
  defaultPartitionRows,
  ensureBarPartitions,
  listBarPartitions,
  partitionUnit,
  retentionPlan,
  setPartitionUnit,
} from '../shared/adapters/bar-partitions';
import { createKnex } from '../shared/adapters/postgres';
import { ArgsError, parseArgsOrExit } from '../shared/runtime/args';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { loadConfigOrExit } from '../shared/runtime/process';
import { cutoffOf, isPartitionUnit, parseAge, PARTITION_UNITS } from '../shared/domain/partitions';

const USAGE = `Usage: tsx scripts/partitions.ts <command> [options]

market_bars is range-partitioned by bar time (ts_utc), one partition per month (UTC) unless the
unit was changed. The ingest workers keep partitions created from BI_BAR_PARTITIONS_BEHIND_DAYS
before now to BI_BAR_PARTITIONS_AHEAD_DAYS after it; a bar outside every partition lands in the
DEFAULT partition, which the metric bi_market_bars_default_partition_rows reports.

  list                         partitions with their range, estimated rows and size; DEFAULT rows
  ensure --from T [--to T]     create the partitions [from, to) lacks (ISO times; --to: now + 62 days),
                               e.g. before loading history older than the workers' window
  adopt-default                create a partition for every month the DEFAULT partition holds rows of,
                               moving them there (brief exclusive locks on the DEFAULT partition)
  set-unit <${PARTITION_UNITS.join('|')}>
                               the span of partitions created from now on (existing ones keep theirs)
  retention --older-than AGE [--apply]
                               detach and drop every partition whose bars are all older than AGE
                               ("24 months", "90 days", "2 years"); without --apply only prints what it
                               would drop. Never automatic. Gaps, runs and subscriptions are kept; each
                               series' start_utc moves to its first remaining bar.

Options:
  --help                       this text`;

const fmtTime = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().slice(0, 19) + 'Z');
const fmtBytes = (n: number): string =>
  n >= 1 << 30
    ? `${(n / (1 << 30)).toFixed(2)} GiB`
    : n >= 1 << 20
      ? `${(n / (1 << 20)).toFixed(1)} MiB`
      : `${Math.round(n / 1024)} KiB`;
const row = (p: BarPartition): string =>
  `${p.name.padEnd(24)} ${fmtTime(p.fromMs).padEnd(21)} ${fmtTime(p.toMs).padEnd(21)} ${String(
    Math.max(0, Math.round(p.rowsEstimate)),
  ).padStart(12)} ${fmtBytes(p.bytes).padStart(11)}`;

function parseTime(text: string, flag: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms))
    throw new ArgsError(`${flag} needs an ISO time such as 2024-01-01, got ${JSON.stringify(text)}`);
  return ms;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const command = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : 'list';
  const rest = command === argv[0] ? argv.slice(1) : argv;
  const positional = command === 'set-unit' ? rest.slice(0, 1) : [];
  const options = rest.slice(positional.length);
  const args = parseArgsOrExit(options, { from: '', to: '', olderThan: '', apply: false }, USAGE, (a) => {
    if (!['list', 'ensure', 'adopt-default', 'set-unit', 'retention'].includes(command))
      throw new ArgsError(`unknown command ${JSON.stringify(command)}`);
    if (command === 'ensure' && !a.from) throw new ArgsError('ensure needs --from');
    if (command === 'set-unit' && !isPartitionUnit(positional[0] ?? ''))
      throw new ArgsError(`set-unit needs one of ${PARTITION_UNITS.join(', ')}`);
    if (command === 'retention') {
      if (!a.olderThan) throw new ArgsError('retention needs --older-than (e.g. "24 months")');
      try {
        parseAge(a.olderThan);
      } catch (err) {
        throw new ArgsError((err as Error).message);
      }
    }
  });
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-partitions'));
  const knex = createKnex(c.pgAdmin, { min: 0, max: 2 });
  const out = (line: string): void => void process.stdout.write(line + '\n');
  try {
    if (command === 'list') {
      out(`unit: ${await partitionUnit(knex)}`);
      out(
        `${'partition'.padEnd(24)} ${'from (incl.)'.padEnd(21)} ${'to (excl.)'.padEnd(21)} ${'rows (est.)'.padStart(12)} ${'size'.padStart(11)}`,
      );
      for (const p of await listBarPartitions(knex)) out(row(p));
      out(`rows in the DEFAULT partition: ${await defaultPartitionRows(knex)} (should be 0)`);
    } else if (command === 'ensure') {
      const from = parseTime(args.from, '--from');
      const to = args.to ? parseTime(args.to, '--to') : Date.now() + 62 * 86_400_000;
      out(`created ${await ensureBarPartitions(knex, from, to)} partition(s) for [${fmtTime(from)}, ${fmtTime(to)})`);
    } else if (command === 'adopt-default') {
      const before = await defaultPartitionRows(knex, Number.MAX_SAFE_INTEGER);
      const created = await adoptDefaultRows(knex);
      out(`created ${created} partition(s); DEFAULT rows ${before} -> ${await defaultPartitionRows(knex)}`);
    } else if (command === 'set-unit') {
      const unit = positional[0]!;
      if (!isPartitionUnit(unit)) throw new Error('unreachable');
      await setPartitionUnit(knex, unit);
      out(`partitions created from now on span one ${unit}`);
    } else {
      const cutoff = cutoffOf(parseAge(args.olderThan), Date.now());
      const plan = await retentionPlan(knex, cutoff);
      out(
        `${args.apply ? 'dropping' : 'dry run: would drop'} ${plan.drop.length} partition(s) with every bar before ${fmtTime(cutoff)}` +
          ` (${plan.keep} kept)`,
      );
      for (const p of plan.drop) out(`  ${row(p)}`);
      if (args.apply) {
        await applyRetention(knex, plan, (p) => out(`dropped ${p.name}`));
        out(`done: ${plan.drop.length} partition(s) dropped`);
      } else if (plan.drop.length > 0) out('run again with --apply (make retention ... APPLY=1) to drop them');
    }
  } finally {
    await knex.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`partitions: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
