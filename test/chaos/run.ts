/**
 * `make chaos SEED=.. MINUTES=..`: a randomized fault run with a checker. The seed plans the
 * stream (plan.ts: runs sending the same bars, duplicates, corrections, holes of 1-6 bars, an
 * exporter outage with its status events, late bars, poison messages) and a schedule of faults
 * over the run; 3 ingest and 2 continuity workers run as processes (restarted when they exit, as
 * a container runtime would) while the faults are injected. At the end the final state is
 * compared with the plan's expected state and a verdict line printed; the exit code is non-zero on
 * any difference. The seed and the schedule are printed first, so a failure replays exactly.
 */
import { db, closeDb, deleteTestTopics, sleep } from '../support/stack';
import { migrateLatest } from '../../shared/adapters/postgres';
import { collectState, compareState, verdictLine } from '../support/faults/compare';
import { CommitLog, Fleet, stackService, superuserSql, waitApplied } from '../support/faults/harness';
import { expectedState, planStream, prng } from '../support/faults/plan';
import { BACKFILL_KINDS, Scenario } from '../support/faults/scenario';
import { ArgsError, parseArgsOrExit, runCommand } from '../../shared/runtime/args';

type Fault =
  | 'sigterm-ingest'
  | 'sigkill-ingest'
  | 'sigstop-ingest'
  | 'sigkill-continuity'
  | 'pg-terminate'
  | 'pg-readonly'
  | 'slow-statement'
  | 'redis-restart'
  | 'kafka-restart'
  | 'registry-restart';
const ALL_FAULTS: Fault[] = [
  'sigterm-ingest',
  'sigkill-ingest',
  'sigstop-ingest',
  'sigkill-continuity',
  'pg-terminate',
  'pg-readonly',
  'slow-statement',
  'redis-restart',
  'kafka-restart',
  'registry-restart',
];
const DEFAULT_FAULTS = ALL_FAULTS.filter((f) => f !== 'registry-restart');

const USAGE = `bar-ingest chaos run

Usage: tsx test/chaos/run.ts [--seed N] [--minutes M] [--faults LIST]

  --seed N       seeds the stream and the fault schedule (default 1)
  --minutes M    how long the stream is published for, about (default 2; decimals allowed)
  --faults LIST  the faults to draw from (default: all but registry-restart, whose JVM start
                 takes over a minute here), of: ${ALL_FAULTS.join(', ')}
  --help

Runs against the stack of this checkout and the database in BI_PG_DATABASE (make chaos uses the
suite's database, bar_ingest_test, and truncates it).`;

interface Scheduled {
  atSec: number;
  fault: Fault;
  /** Which worker, for process faults. */
  target: number;
}

const T0 = Date.now();
const say = (msg: string): void =>
  void process.stdout.write(`[chaos ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);

/** Faults at random times over the run, at least 8 s apart so each one's effect is its own. */
export function schedule(seed: number, seconds: number, faults: Fault[]): Scheduled[] {
  const rnd = prng(seed * 7919 + 1);
  const out: Scheduled[] = [];
  let at = 5 + rnd() * 5;
  while (at < seconds) {
    out.push({
      atSec: Math.round(at),
      fault: faults[Math.floor(rnd() * faults.length)]!,
      target: Math.floor(rnd() * 3),
    });
    at += 8 + rnd() * 20;
  }
  return out;
}

async function inject(s: Scenario, fleet: Fleet, f: Scheduled): Promise<string> {
  const ingest = fleet.of('ingest');
  const worker = ingest[f.target % ingest.length]!;
  const continuity = fleet.of('continuity')[f.target % 2]!;
  // Two faults can fall due together (one that takes long delays the next): a signal to a worker
  // that has just died would reach nobody, yet be reported as injected.
  if (f.fault.endsWith('-ingest')) await worker.alive();
  if (f.fault === 'sigkill-continuity') await continuity.alive();
  switch (f.fault) {
    case 'sigterm-ingest':
      worker.signal('SIGTERM');
      return `SIGTERM ${worker.name} (pid ${worker.pid}); restarted by the supervisor`;
    case 'sigkill-ingest':
      worker.signal('SIGKILL');
      return `SIGKILL ${worker.name} (pid ${worker.pid}); restarted by the supervisor`;
    case 'sigstop-ingest': {
      const pid = worker.pid;
      worker.signal('SIGSTOP');
      await sleep(10_000);
      worker.signal('SIGCONT');
      return `SIGSTOP ${worker.name} (pid ${pid}) for 10 s (session timeout 6 s), then SIGCONT`;
    }
    case 'sigkill-continuity':
      continuity.signal('SIGKILL');
      return `SIGKILL ${continuity.name} (pid ${continuity.pid}); restarted by the supervisor`;
    case 'pg-terminate': {
      const n = await superuserSql(
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
          WHERE usename = '${process.env.BI_PG_WORKER_USER ?? 'bar_ingest_worker'}' AND datname = current_database()`,
      );
      return `pg_terminate_backend on ${n} worker connections`;
    }
    case 'pg-readonly':
      await superuserSql('ALTER SYSTEM SET default_transaction_read_only = on');
      await superuserSql('SELECT pg_reload_conf()');
      await sleep(6_000);
      await superuserSql('ALTER SYSTEM RESET default_transaction_read_only');
      await superuserSql('SELECT pg_reload_conf()');
      return 'PostgreSQL read-only for 6 s';
    case 'slow-statement':
      await db().transaction(async (trx) => {
        await trx.raw('LOCK TABLE market_bars IN EXCLUSIVE MODE');
        await sleep(10_000);
      });
      return 'market_bars locked for 10 s (longer than the 6 s session timeout)';
    case 'redis-restart':
      await stackService('down', 'redis');
      await sleep(2_000);
      await stackService('up', 'redis');
      return 'Redis stopped for 2 s and started';
    case 'kafka-restart':
      await stackService('down', 'kafka');
      await sleep(2_000);
      await stackService('up', 'kafka');
      return 'Kafka stopped for 2 s and started';
    case 'registry-restart':
      await stackService('down', 'registry');
      await sleep(3_000);
      await stackService('up', 'registry');
      return 'registry stopped for 3 s and started';
  }
}

export async function chaos(seed: number, minutes: number, faults: Fault[]): Promise<boolean> {
  const seconds = Math.max(20, Math.round(minutes * 60));
  // About 60 messages/s of publishing, spread over the run: the first phase takes ~80% of it.
  const barsPerSeries = Math.max(60, Math.round((seconds * 60 * 0.8) / (8 * 3)));
  const plan = planStream({ seed, seriesPerVenue: 4, barsPerSeries, runs: 3, poison: 3 });
  const expected = expectedState(plan, { backfillKinds: BACKFILL_KINDS });
  const phaseMessages = plan.phases.map((p) => p.messages.length);
  const rate = Math.max(20, Math.round(phaseMessages.reduce((a, n) => a + n, 0) / seconds));
  const sched = schedule(seed, seconds, faults);
  say(`seed ${seed}, ${minutes} min, plan ${JSON.stringify(plan.summary)}, ${rate} msg/s`);
  say(
    `expected: ${[...expected.bars.values()].reduce((a, m) => a + m.size, 0)} bars, ${expected.gaps.length} gaps, ${expected.deadLetters.length} dead letters`,
  );
  say(
    `schedule: ${sched.map((f) => `${f.atSec}s ${f.fault}${f.fault.includes('ingest') ? `#${f.target}` : ''}`).join(', ')}`,
  );

  await migrateLatest(db());
  await superuserSql('ALTER SYSTEM RESET default_transaction_read_only');
  await superuserSql('SELECT pg_reload_conf()');
  const s = new Scenario();
  const fleet = s.fleet;
  await s.setup({ ingest: 3, continuity: 2 });
  const log = new CommitLog(s.ctx, `${s.ctx.prefix}ingest`);
  await log.start();
  const injected: string[] = [];
  let phantomLag = 0;
  const finalWant = {
    bars: [...expected.bars.values()].reduce((a, m) => a + m.size, 0),
    revisions: [...expected.bars.values()].reduce((a, m) => a + [...m.values()].reduce((r, b) => r + b.revision, 0), 0),
    subscriptions: expected.subscriptions.size,
  };
  let stopFaults = false;
  const started = Date.now();
  const faultLoop = (async () => {
    for (const f of sched) {
      const wait = started + f.atSec * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      if (stopFaults) return;
      const what = await inject(s, fleet, f).catch(
        // The first line: a wait's message goes on with the worker's last log lines.
        (err: unknown) => `${f.fault} FAILED to inject: ${(err as Error).message.split('\n')[0]}`,
      );
      injected.push(`${Math.round((Date.now() - started) / 1000)}s ${what}`);
      say(`fault: ${what}`);
    }
  })();
  try {
    for (const [i, phase] of plan.phases.entries()) {
      say(`phase ${i + 1}/${plan.phases.length} (${phase.label}): ${phase.messages.length} messages`);
      await s.publisher.publish(phase, { ratePerSec: rate, chunk: Math.max(10, Math.round(rate / 5)) });
      const upTo = expectedState({ ...plan, phases: plan.phases.slice(0, i + 1) }, { backfillKinds: BACKFILL_KINDS });
      const want = {
        bars: [...upTo.bars.values()].reduce((a, m) => a + m.size, 0),
        revisions: [...upTo.bars.values()].reduce((a, m) => a + [...m.values()].reduce((r, b) => r + b.revision, 0), 0),
        subscriptions: upTo.subscriptions.size,
      };
      phantomLag = await waitApplied(s.ctx, db(), want, { backfillKinds: BACKFILL_KINDS, fleet });
    }
    stopFaults = true;
    await faultLoop;
    // A fault that ended after the last phase settled may have left work: settle again.
    phantomLag = await waitApplied(s.ctx, db(), finalWant, { backfillKinds: BACKFILL_KINDS, fleet });
    await sleep(2_000);
    const actual = await collectState(s.ctx, db());
    const v = compareState(expected, actual);
    say(`faults injected (${injected.length}):\n  ${injected.join('\n  ')}`);
    say(`worker restarts: ${fleet.procs.map((p) => `${p.name} ${p.restarts}`).join(', ')}`);
    const backwards = log.backwards();
    say(
      `committed offsets moved backwards ${backwards.length} times (redelivery, not loss)${backwards.length ? `: ${backwards.slice(0, 5).join('; ')}` : ''}`,
    );
    say(`ingest lag left at the end: ${phantomLag} messages processed but not committed (offsets moved backwards)`);
    for (const n of v.notes) say(`note: ${n}`);
    for (const d of v.details) say(`difference: ${d}`);
    process.stdout.write(`seed ${seed} minutes ${minutes} ${verdictLine(v)}\n`);
    return v.ok;
  } catch (err) {
    stopFaults = true;
    process.stdout.write(`${fleet.tail(20)}\n`);
    throw err;
  } finally {
    stopFaults = true;
    await faultLoop.catch(() => undefined);
    await log.stop();
    await s.close();
  }
}

async function main(): Promise<number> {
  const o = parseArgsOrExit(process.argv.slice(2), { seed: 1, minutes: 2, faults: DEFAULT_FAULTS.join(',') }, USAGE);
  const faults = o.faults.split(',').map((f) => f.trim()) as Fault[];
  for (const f of faults)
    if (!ALL_FAULTS.includes(f)) throw new ArgsError(`unknown fault ${f}: use ${ALL_FAULTS.join(', ')}`);
  try {
    return (await chaos(o.seed, o.minutes, faults)) ? 0 : 1;
  } finally {
    await closeDb();
    await deleteTestTopics();
  }
}

if (require.main === module) {
  runCommand('chaos', USAGE, main);
}
