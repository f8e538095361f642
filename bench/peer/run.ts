/**
 * `make bench-peer`: bar-ingest beside the peer a user would pick instead (Kafka Connect with
 * Debezium's JDBC sink) and beside the two kafkajs ceilings, on the bench's own dataset. Writes
 * bench/results/peer-<timestamp>.json and prints a table. See USAGE.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createKafka } from '../../shared/adapters/kafka';
import { EnvReader } from '../../shared/runtime/config';
import { readConnections } from '../../shared/runtime/connections';
import { silentLogger } from '../../shared/runtime/log';
import { ArgsError, parseArgsOrExit, runCommand } from '../../shared/runtime/args';
import { readIngestConfig } from '../../workers/ingest/config';
import { makePlan } from '../dataset';
import { expectedVolumeSum, setUpDatabase } from '../db';
import { ROOT } from '../procs';
import { Bench, type ThroughputResult } from '../run';
import { CeilingResult, runCeiling } from './ceilings';
import { dropPeerTable, PeerResult, runPeer, SinkTuning } from './connect';

const USAGE = `bar-ingest beside its peer (Kafka Connect + Debezium JDBC sink) and the kafkajs ceilings

Usage: make bench-peer [ARGS='...']   (starts Kafka Connect, runs this, stops Kafka Connect)
       tsx bench/peer/run.ts [options] (needs scripts/stack.sh up connect)

  --size N            messages of the dataset (default 300000: the bench's matrix topic, 298,346)
  --best-tasks LIST   tasks.max of the peer's best settings, one run each (default 1,2; the
                      default config has 1)
  --skip-bar-ingest   do not run bench/run.ts (bar-ingest at flush 1000 and 5000) as a child
  --skip-ceilings     do not measure the kafkajs ceilings
  --skip-peer         do not run the Connect sink
  --warm-up N         messages the sink handles before it is timed, to load and compile its code
                      (Hibernate's start-up took 40 s on a loaded machine; default 20000, 0: none)
  --database NAME     PostgreSQL database (default bar_ingest_bench)
  --out DIR           where peer-<timestamp>.json goes (default bench/results)
  --help

One topic is pre-produced with the bench's dataset code (bench/dataset.ts, as bench/run.ts does):
200 series x 1-Min x 5 runs, 1% corrections, a few holes, 12 partitions. On it, each from offset 0
with a fresh consumer group: the two ceilings, then the sink with its defaults (upsert on the
key) and with its best settings (batch 5000, reduction buffer, UNNEST insert, more tasks). The
sink is timed from its first offset commit to the commit that reaches the end of the topic, and
checked: one row per distinct bar, each holding its final (corrected) values. bar-ingest's figures
come from its own bench (bench/run.ts --sizes N --flush-sizes 1000,5000 --workers 1), run as a
child process on a topic of its own with the same dataset.`;

const DEFAULTS = {
  size: 300_000,
  bestTasks: '1,2',
  skipBarIngest: false,
  skipCeilings: false,
  skipPeer: false,
  warmUp: 20_000,
  database: 'bar_ingest_bench',
  out: path.join(ROOT, 'bench/results'),
};

const T0 = Date.now();
const say = (msg: string): void =>
  void process.stderr.write(`[bench-peer ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

/** The fields of bar-ingest's own results this report uses (typed from bench/run.ts, so a rename there fails here). */
type BarIngestFigure = Pick<
  ThroughputResult,
  'flushMaxMessages' | 'workers' | 'messages' | 'seconds' | 'messagesPerSec'
>;

interface PeerResults {
  startedAt: string;
  finishedAt?: string;
  /** Load averages (1, 5, 15 min) at the start and the end: the cores may be shared. */
  machine: { cpus: number; loadavg: number[]; loadavgAtEnd?: number[]; node: string };
  options: typeof DEFAULTS;
  dataset: { messages: number; distinct: number; corrections: number; holes: number; partitions: number };
  barIngest: BarIngestFigure[];
  barIngestResults?: string;
  ceilings: CeilingResult[];
  peer: PeerResult[];
  checks: string[];
}

/** bar-ingest's own bench as a child: its matrix at flush 1000 and 5000, 1 worker, same dataset size. */
function runBarIngest(size: number, database: string, results: PeerResults): BarIngestFigure[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-peer-'));
  const args = ['bench/run.ts', '--sizes', String(size), '--flush-sizes', '1000,5000', '--workers', '1'];
  args.push('--scenarios', 'matrix', '--database', database, '--out', dir);
  say(`bar-ingest: tsx ${args.map((a) => (a === '' ? "''" : a)).join(' ')}`);
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
  if (r.status !== 0 || !file) throw new Error(`bench/run.ts exited with ${r.status}${file ? '' : ' and no results'}`);
  const json = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
    matrix: BarIngestFigure[];
    checks: string[];
  };
  results.barIngestResults = json.checks.every((c) => !c.startsWith('FAILED'))
    ? `all ${json.checks.length} checks of bench/run.ts passed`
    : json.checks.filter((c) => c.startsWith('FAILED')).join('; ');
  fs.rmSync(dir, { recursive: true, force: true });
  return json.matrix.map((t) => ({
    flushMaxMessages: t.flushMaxMessages,
    workers: t.workers,
    messages: t.messages,
    seconds: t.seconds,
    messagesPerSec: t.messagesPerSec,
  }));
}

function table(r: PeerResults): string {
  const d = r.dataset;
  const lines = [
    `### bar-ingest and its peer (${fmt(d.messages)} messages, ${fmt(d.distinct)} distinct bars, ${d.partitions} partitions, ${r.machine.cpus} cores)`,
    '',
    '| system | msg/s | seconds | timed from |',
    '| --- | ---: | ---: | --- |',
  ];
  const names: Record<string, string> = {
    consume: 'kafkajs, consume + commit only (bar-ingest consumer settings)',
    decode: 'kafkajs + avsc decode of every message + commit',
  };
  for (const c of r.ceilings)
    lines.push(
      `| ${names[c.kind]} | ${fmt(c.messagesPerSec)} | ${c.seconds.toFixed(1)} | first fetch to last commit |`,
    );
  for (const b of r.barIngest)
    lines.push(
      `| bar-ingest, ${b.workers} worker, flush ${b.flushMaxMessages} | ${fmt(b.messagesPerSec)} | ${b.seconds.toFixed(1)} | worker start-up to lag 0 (bench/run.ts) |`,
    );
  for (const p of r.peer)
    lines.push(
      `| ${p.label} | ${fmt(p.messagesPerSec)} | ${p.seconds.toFixed(1)} | first to last offset commit (from connector creation: ${fmt(p.messagesPerSecFromCreate)} msg/s in ${p.secondsFromCreate.toFixed(1)} s) |`,
    );
  if (r.barIngest.length === 0) lines.push('', 'bar-ingest not run here (--skip-bar-ingest).');
  return lines.join('\n');
}

async function main(): Promise<number> {
  const o = parseArgsOrExit(process.argv.slice(2), DEFAULTS, USAGE);
  if (!o.database.startsWith('bar_ingest_bench'))
    throw new ArgsError('--database must be a bar_ingest_bench* database');
  const bestTasks = o.bestTasks.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 1 || n > 12) throw new ArgsError(`--best-tasks: not a task count 1-12: ${x}`);
    return n;
  });
  const env = { ...(process.env as Record<string, string>), BI_PG_DATABASE: o.database };
  const reader = new EnvReader(env);
  const connectHost = reader.string('BI_CONNECT_HOST', '127.0.0.1', 'Kafka Connect REST API host (stack.env)');
  const connectPort = reader.int('BI_CONNECT_PORT', 58083, 'Kafka Connect REST API port (stack.env)', {
    min: 1,
    max: 65535,
  });
  reader.check();
  const connectUrl = `http://${connectHost}:${connectPort}`;
  say(`setting up database ${o.database}`);
  setUpDatabase(env, o.database);
  const connections = readConnections(new EnvReader(env), 'bar-ingest-bench-peer');
  const plan = makePlan(o.size);
  const results: PeerResults = {
    startedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, loadavg: os.loadavg(), node: process.version },
    options: o,
    dataset: {
      messages: plan.messages,
      distinct: plan.distinct,
      corrections: plan.corrections,
      holes: plan.holes,
      partitions: 0,
    },
    barIngest: [],
    ceilings: [],
    peer: [],
    checks: [],
  };
  const problems: string[] = [];
  const check = (ok: boolean, what: string): void => {
    results.checks.push(`${ok ? 'ok' : 'FAILED'}: ${what}`);
    if (!ok) problems.push(what);
  };

  // bar-ingest first, on its own topic, while nothing else of this run is consuming.
  if (!o.skipBarIngest) {
    results.barIngest = runBarIngest(o.size, o.database, results);
    check(!!results.barIngestResults?.startsWith('all'), `bar-ingest: ${results.barIngestResults}`);
  }

  const bench = new Bench(env, connections, createKafka(connections.kafka, silentLogger));
  await bench.open();
  try {
    say(`pre-producing ${plan.messages} messages (${plan.distinct} distinct bars, ${plan.corrections} corrections)`);
    const stream = await bench.preProduce(plan);
    const meta = await bench.admin.fetchTopicMetadata({ topics: [stream.topic] });
    results.dataset.partitions = meta.topics[0]?.partitions.length ?? 0;
    const timeoutMs = 900_000;

    if (!o.skipCeilings) {
      const config = readIngestConfig(new EnvReader(stream.env));
      for (const kind of ['consume', 'decode'] as const) {
        say(`ceiling: ${kind}`);
        const c = await runCeiling(kind, stream.kafka, stream.codec, config, {
          topic: stream.topic,
          groupId: `${stream.prefix}ceiling-${kind}`,
          messages: plan.messages,
          timeoutMs,
        });
        say(`  ${fmt(c.messagesPerSec)} msg/s (${c.seconds.toFixed(1)} s; ${c.secondsFromRun.toFixed(1)} s from run)`);
        check(c.messages === plan.messages, `ceiling ${kind}: ${c.messages} committed of ${plan.messages}`);
        if (kind === 'decode') check(c.decoded === plan.messages, `ceiling decode: ${c.decoded} decoded`);
        results.ceilings.push(c);
      }
    }

    if (!o.skipPeer) {
      const best = (tasks: number): SinkTuning => ({
        batchSize: 5000,
        maxPollRecords: 5000,
        reductionBuffer: true,
        unnestInsert: true,
        tasks,
      });
      const runs: Array<{ label: string; tuning: SinkTuning }> = [
        { label: 'Kafka Connect + Debezium JDBC sink, upsert, defaults', tuning: {} },
        ...bestTasks.map((tasks) => ({
          label: `the same, batch 5000, reduction buffer, UNNEST insert, ${tasks} task(s)`,
          tuning: best(tasks),
        })),
      ];
      const expectedVolume = expectedVolumeSum(plan);
      const peerSettings = { connectUrl, registryUrl: connections.registryUrl, pg: connections.pgAdmin };
      if (o.warmUp > 0) {
        // The worker's JVM is fresh: the first connector would pay for class loading and the JIT.
        say(`peer: warm-up (best settings, the first ${o.warmUp} messages, not timed)`);
        await runPeer(
          peerSettings,
          bench.admin,
          bench.knex,
          {
            label: 'warm-up',
            name: `${stream.prefix}peer-warm-up`,
            topic: stream.topic,
            messages: Math.min(o.warmUp, plan.messages),
            tuning: best(Math.max(...bestTasks)),
            timeoutMs,
          },
          say,
        );
      }
      for (const [i, run] of runs.entries()) {
        say(`peer: ${run.label}`);
        const p = await runPeer(
          peerSettings,
          bench.admin,
          bench.knex,
          {
            label: run.label,
            name: `${stream.prefix}peer-${i}-${crypto.randomBytes(2).toString('hex')}`,
            topic: stream.topic,
            messages: plan.messages,
            tuning: run.tuning,
            timeoutMs,
          },
          say,
        );
        say(
          `  ${fmt(p.messagesPerSec)} msg/s (${p.seconds.toFixed(1)} s from first to last commit; ${fmt(p.messagesPerSecFromCreate)} msg/s from creation)`,
        );
        check(p.rows === plan.distinct, `peer ${i}: ${p.rows} rows stored, expected ${plan.distinct}`);
        check(p.volumeSum === expectedVolume, `peer ${i}: every stored bar holds its final (corrected) values`);
        results.peer.push(p);
      }
      await dropPeerTable(bench.knex);
    }
  } finally {
    say('cleaning up (deleting the topics)');
    await bench.close();
  }

  results.finishedAt = new Date().toISOString();
  results.machine.loadavgAtEnd = os.loadavg();
  fs.mkdirSync(o.out, { recursive: true });
  const file = path.join(o.out, `peer-${results.startedAt.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(table(results) + '\n');
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), file)}\n`);
  if (problems.length > 0) {
    process.stderr.write(`bench-peer: ${problems.length} check(s) failed:\n  ${problems.join('\n  ')}\n`);
    return 1;
  }
  say(`all ${results.checks.length} checks passed`);
  return 0;
}

runCommand('bench-peer', USAGE, main);
