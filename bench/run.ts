/**
 * `make bench`: the benchmark against the real stack (Kafka, schema registry, PostgreSQL), nothing
 * mocked. Writes bench/results/<timestamp>.json and prints a markdown table. See USAGE.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import type { Knex } from 'knex';
import { createKafka, ensureTopics, topicSpecs } from '../shared/adapters/kafka';
import { createKnex } from '../shared/adapters/postgres';
import { RegistryCodec } from '../shared/adapters/registry';
import { EnvReader } from '../shared/runtime/config';
import { Connections, readConnections } from '../shared/runtime/connections';
import { silentLogger } from '../shared/runtime/log';
import { DEFAULT_FLUSH_MAX_MESSAGES } from '../shared/runtime/pipeline-settings';
import { ArgsError, parseArgsOrExit, runCommand } from '../shared/runtime/args';
import { registerSchemas } from '../shared/adapters/provisioning';
import { FastEncoder, makePlan, Plan, planMessages, produce } from './dataset';
import { copyBaseline, CopyResult, oldWayBaseline, OldWayResult, setUpDatabase, storage, StorageResult } from './db';
import { diffFinalValues, expectedVolumeSum, storedCounts, truncateData } from './db';
import { gapLatency, latencyFromRows, LatencyResult, liveMessages, publishAtRate } from './latency';
import { RECOMMENDED_NODE_ARGS, ROOT, waitForLag0, WorkerProcess, WorkerSnapshot } from './procs';
import { soak, SoakResult, soakTable } from './soak';

const USAGE = `bar-ingest benchmark (real stack, nothing mocked)

Usage: tsx bench/run.ts [options]

  --smoke               tiny sizes, asserts the run completes and every count is right (never a
                        timing); exits non-zero otherwise. For make test.
  --sizes LIST          growth sizes in messages (default 100000,300000,1000000)
  --matrix-size N       size of the 1-vs-2-workers x flush-size matrix (default: the middle size)
  --flush-sizes LIST    BI_FLUSH_MAX_MESSAGES caps of the matrix (default 1000,5000; 5000 is the worker's default)
  --workers LIST        worker process counts of the matrix (default 1,2)
  --growth-flush N      flush size of the growth runs (default: the middle flush size)
  --rates LIST          live publish rates in bars/s (default 1000,10000)
  --latency-seconds N   seconds of live publishing per rate (default 30)
  --latency-flush LIST  BI_FLUSH_MAX_MESSAGES caps for the latency runs (default 5000, the worker's default)
  --worker-node-args S  node arguments for every worker, space-separated (default: the recommended
                        ${RECOMMENDED_NODE_ARGS.join(' ')}; '' for none)
  --soak-minutes M      minutes of the soak (one worker at a steady rate, RSS/heap slope, latency
                        per minute; default 10, 0 to skip; smoke: skipped). Alone: make soak
  --soak-rate N         bars/s of the soak (default 2000)
  --scenarios LIST      which parts run (default matrix,baselines,growth,latency,soak); e.g.
                        --scenarios matrix for a quick throughput check
  --profile             run every worker with node --cpu-prof (profiles in bench/results/profiles)
  --keep-data           leave the last scenario's rows in the database (for debugging)
  --old-way-sample N    messages the old way processes at most (default 20000; and at most 20 s)
  --database NAME       PostgreSQL database (default bar_ingest_bench; smoke: bar_ingest_bench_test)
  --skip-setup          do not run scripts/stack.sh up postgres + migrate for that database
  --out DIR             where the JSON goes (default bench/results)
  --help

Scenarios: throughput (pre-produced topic, fresh consumer group, timed from the first worker's
start-up log line to lag 0 with every row counted), COPY and old-way baselines on the same
distinct bars, growth, live latency, storage against the legacy per-run layout.
Connections come from the environment (stack.env defaults; see workers/ingest/main.ts --help).`;

const DEFAULTS = {
  smoke: false,
  sizes: '100000,300000,1000000',
  matrixSize: 0,
  flushSizes: '1000,5000',
  workers: '1,2',
  growthFlush: 0,
  rates: '1000,10000',
  latencySeconds: 30,
  latencyFlush: '5000',
  soakMinutes: 10,
  soakRate: 2000,
  scenarios: 'matrix,baselines,growth,latency,soak',
  profile: false,
  workerNodeArgs: RECOMMENDED_NODE_ARGS.join(' '),
  keepData: false,
  oldWaySample: 20_000,
  database: '',
  skipSetup: false,
  out: path.join(ROOT, 'bench/results'),
};
type Options = typeof DEFAULTS;
const SCENARIOS = ['matrix', 'baselines', 'growth', 'latency', 'soak'];
/** The per-bar baseline stops after this long, at any size: it is slow by design. */
const OLD_WAY_MAX_MS = 20_000;

const nums = (s: string): number[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n <= 0) throw new ArgsError(`not a positive integer: ${x}`);
      return n;
    });

const T0 = Date.now();
const say = (msg: string): void =>
  void process.stderr.write(`[bench ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);

export interface ThroughputResult {
  messages: number;
  distinct: number;
  workers: number;
  flushMaxMessages: number;
  seconds: number;
  /** From spawning the processes (includes tsx start-up and the group join). */
  secondsFromSpawn: number;
  messagesPerSec: number;
  distinctPerSec: number;
  flushP50Ms: number;
  flushP99Ms: number;
  largestFlush: number;
  peakRssMb: number[];
  /** Worker CPU time (user + system, every worker together) per message, from start-up done to lag 0. */
  cpuUsPerMessage: number;
  /** Share of the workers' wall time spent in each flush stage (the rest: decoding, waiting for fetches). */
  stageShare: Record<string, number>;
  consumed: number;
  stored: number;
  /** Rows whose correction arrived in a later flush than the original (revision > 0). */
  revised: number;
  volumeSum: number;
  /** Missing bars over the gaps the workers stored and that are still missing something. */
  gapBars: number;
  /** Gaps raised and later filled because the stream was reordered. */
  filledGaps: number;
}

/** A topic set of its own (unique prefix), its producer, and the pre-produced plan. */
class Stream {
  readonly prefix = `bench-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}.`;
  readonly connections: Connections;
  readonly kafka: Kafka;
  readonly codec: RegistryCodec;
  private producer: Producer | undefined;

  constructor(readonly env: Record<string, string>) {
    this.env = { ...env, BI_TOPIC_PREFIX: this.prefix };
    this.connections = readConnections(new EnvReader(this.env), 'bar-ingest-bench');
    this.kafka = createKafka(this.connections.kafka, silentLogger);
    this.codec = new RegistryCodec(this.connections.registry);
  }

  get topic(): string {
    return this.connections.topics.bars;
  }

  async setup(admin: Admin): Promise<Producer> {
    await ensureTopics(admin, topicSpecs(this.connections.topics));
    await registerSchemas(this.connections);
    // One producer per topic set: a producer that knew a deleted topic fails its metadata refreshes.
    this.producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
    return this.producer;
  }

  get sender(): Producer {
    if (!this.producer) throw new Error('stream not set up');
    return this.producer;
  }

  async drop(admin: Admin): Promise<void> {
    await this.release();
    await admin.deleteTopics({ topics: Object.values(this.connections.topics) }).catch(() => undefined);
  }

  async release(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}

export class Bench {
  readonly admin: Admin;
  readonly knex: Knex;
  private readonly streams: Stream[] = [];
  /** Extra node arguments for every worker (e.g. --cpu-prof). */
  nodeArgs: string[] = [];

  constructor(
    readonly env: Record<string, string>,
    readonly connections: Connections,
    readonly kafka: Kafka,
  ) {
    this.admin = kafka.admin();
    this.knex = createKnex(connections.pgAdmin, { min: 0, max: 2 });
  }

  async open(): Promise<void> {
    await this.admin.connect();
  }

  async close(): Promise<void> {
    // One call for every topic: the broker takes seconds per deletion request.
    const streams = this.streams.splice(0);
    for (const s of streams) await s.release();
    const topics = streams.flatMap((s) => Object.values(s.connections.topics));
    await this.admin.deleteTopics({ topics, timeout: 60_000 }).catch(() => undefined);
    await this.admin.disconnect();
    await this.knex.destroy();
  }

  async newStream(): Promise<Stream> {
    const stream = new Stream(this.env);
    this.streams.push(stream);
    await stream.setup(this.admin);
    return stream;
  }

  async preProduce(plan: Plan): Promise<Stream> {
    const stream = await this.newStream();
    const encoder = await FastEncoder.create(stream.codec, stream.topic);
    const started = performance.now();
    const { originals, corrections } = planMessages(plan, encoder);
    // One chunk in flight: chunks landing out of order would reorder each series by a few bars,
    // and every swap would raise a gap that the next flush fills (a stream no exporter sends).
    let sent = await produce(stream.sender, stream.topic, originals, { maxInFlight: 1 });
    // Corrections strictly after every original: acknowledged first, and a later CreateTime.
    await new Promise((r) => setTimeout(r, 5));
    sent += await produce(stream.sender, stream.topic, corrections(), { maxInFlight: 1 });
    if (sent !== plan.messages) throw new Error(`produced ${sent} messages, planned ${plan.messages}`);
    say(`  produced ${sent} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return stream;
  }

  async throughput(stream: Stream, plan: Plan, workers: number, flush: number, timeoutMs: number) {
    await truncateData(this.knex, this.connections.pgAdmin.database);
    const groupId = `${stream.prefix}ingest-${workers}w-${flush}-${crypto.randomBytes(2).toString('hex')}`;
    // Continuity state of its own too: with the last run's last_bar_time every bar would be late
    // and gap detection would have nothing to do.
    const env = {
      ...stream.env,
      BI_INGEST_GROUP_ID: groupId,
      BI_REDIS_NAMESPACE: `${groupId}:`,
      BI_FLUSH_MAX_MESSAGES: String(flush),
    };
    const spawnedAt = Date.now();
    const procs: WorkerProcess[] = [];
    try {
      for (let i = 0; i < workers; i++) procs.push(await WorkerProcess.start(env, this.nodeArgs));
      // Each worker's CPU from its own start-up done: a worker started first may do most of the work
      // before the last one is up.
      const starts = await Promise.all(procs.map(async (p) => ({ at: await p.started(), cpu: p.cpuSeconds() })));
      const startedAt = Math.min(...starts.map((s) => s.at));
      const cpuAtStart = starts.reduce((a, s) => a + s.cpu, 0);
      await waitForLag0(this.admin, stream.topic, groupId, timeoutMs, procs);
      const cpuSeconds = procs.reduce((a, p) => a + p.cpuSeconds(), 0) - cpuAtStart;
      const counts = await storedCounts(this.knex);
      const doneAt = Date.now();
      const snaps = await Promise.all(procs.map((p) => p.snapshot()));
      const rss = procs.map((p) => p.peakRss() / 1024 / 1024);
      const seconds = (doneAt - startedAt) / 1000;
      const flushP = (k: 'flush_ms_p50' | 'flush_ms_p99'): number =>
        Math.max(...snaps.filter((s) => s.flushes > 0).map((s) => s[k]));
      const result: ThroughputResult = {
        messages: plan.messages,
        distinct: plan.distinct,
        workers,
        flushMaxMessages: flush,
        seconds,
        secondsFromSpawn: (doneAt - spawnedAt) / 1000,
        messagesPerSec: plan.messages / seconds,
        distinctPerSec: plan.distinct / seconds,
        flushP50Ms: flushP('flush_ms_p50'),
        flushP99Ms: flushP('flush_ms_p99'),
        largestFlush: Math.max(...snaps.map((s) => s.largest_flush)),
        peakRssMb: rss,
        cpuUsPerMessage: (cpuSeconds * 1e6) / plan.messages,
        stageShare: stageShare(snaps, seconds),
        consumed: snaps.reduce((a, s) => a + s.messages, 0),
        stored: counts.rows,
        revised: counts.revised,
        volumeSum: counts.volumeSum,
        gapBars: counts.gapBars,
        filledGaps: counts.filledGaps,
      };
      say(
        `  ${workers} worker(s), flush ${flush}: ${fmt(result.messagesPerSec)} msg/s, ${fmt(result.distinctPerSec)} bars/s, ` +
          `flush p50/p99 ${result.flushP50Ms}/${result.flushP99Ms} ms, RSS ${rss.map((r) => r.toFixed(0)).join('+')} MB, ` +
          `CPU ${result.cpuUsPerMessage.toFixed(1)} µs/msg, ` +
          `time in ${Object.entries(result.stageShare)
            .map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`)
            .join(', ')}`,
      );
      return result;
    } finally {
      const stopping = Date.now();
      for (const p of procs) await p.stop();
      say(
        `  workers stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s (spawn to start ${((Math.min(...procs.map((p) => p.startedAt ?? Infinity)) - spawnedAt) / 1000).toFixed(1)} s)`,
      );
    }
  }

  async latency(rate: number, seconds: number, flush: number): Promise<LatencyResult> {
    await truncateData(this.knex, this.connections.pgAdmin.database);
    const stream = await this.newStream();
    const encoder = await FastEncoder.create(stream.codec, stream.topic);
    const { messages, holes } = liveMessages(encoder, Math.round(rate * seconds));
    const groupId = `${stream.prefix}ingest`;
    const worker = await WorkerProcess.start(
      { ...stream.env, BI_INGEST_GROUP_ID: groupId, BI_FLUSH_MAX_MESSAGES: String(flush) },
      this.nodeArgs,
    );
    try {
      await worker.started();
      // Let the group join settle, so the first bars do not measure the join.
      await waitForLag0(this.admin, stream.topic, groupId, 30_000, [worker]).catch(() => undefined);
      const pub = await publishAtRate(stream.sender, stream.topic, messages, rate);
      await waitForLag0(this.admin, stream.topic, groupId, 120_000, [worker]);
      const rows = await latencyFromRows(this.knex);
      const snap = await worker.snapshot();
      const gap = await gapLatency(stream.kafka, stream.codec, this.knex, stream.connections.topics.gaps, holes);
      const result: LatencyResult = {
        targetRate: rate,
        flushMaxMessages: flush,
        seconds: pub.ms / 1000,
        published: pub.published,
        achievedRate: pub.published / (pub.ms / 1000),
        stored: rows.stored,
        p50Ms: rows.p50,
        p99Ms: rows.p99,
        maxMs: rows.max,
        workerFlushP50Ms: snap.flush_ms_p50,
        workerFlushP99Ms: snap.flush_ms_p99,
        gapToEventMs: gap.value,
        gapNote: gap.note,
        holes,
        gapsSeen: gap.seen,
      };
      say(
        `  ${rate} bars/s, flush ${flush} (achieved ${fmt(result.achievedRate)}): p50 ${rows.p50.toFixed(0)} ms, p99 ${rows.p99.toFixed(0)} ms, max ${rows.max.toFixed(0)} ms; ` +
          `gap-to-DataGap ${gap.value ? `${gap.value.p50} / ${gap.value.p99} / ${gap.value.max} ms` : 'n/a'} (${gap.note})`,
      );
      return result;
    } finally {
      const stopping = Date.now();
      await worker.stop();
      say(`  worker stopped in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
    }
  }
}

/** Per stage, the workers' summed time in it over their summed wall time. */
function stageShare(snaps: WorkerSnapshot[], seconds: number): Record<string, number> {
  const total: Record<string, number> = {};
  for (const snap of snaps)
    for (const [stage, ms] of Object.entries(snap.stage_ms_total)) total[stage] = (total[stage] ?? 0) + ms;
  const wall = seconds * 1000 * snaps.length;
  return Object.fromEntries(Object.entries(total).map(([stage, ms]) => [stage, ms / wall]));
}

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fx = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

interface Results {
  startedAt: string;
  finishedAt?: string;
  smoke: boolean;
  machine: { cpus: number; node: string; database: string };
  options: Options;
  matrix: ThroughputResult[];
  growth: ThroughputResult[];
  copy?: CopyResult;
  oldWay?: OldWayResult;
  ratios?: { ingestOverCopy: number; ingestOverOldWay: number; basis: string };
  latency: LatencyResult[];
  storage?: StorageResult;
  soak?: SoakResult;
  checks: string[];
}

function table(r: Results): string {
  const lines: string[] = [];
  lines.push('### Throughput (pre-produced, 200 series x 1-Min x 5 runs, 1% corrections, 12 partitions)', '');
  lines.push(
    '| scenario | messages | workers | flush | msg/s | distinct bars/s | flush p50 / p99 (ms) | peak RSS per worker (MB) | worker CPU per message (µs) |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const row = (label: string, t: ThroughputResult): string =>
    `| ${label} | ${fmt(t.messages)} | ${t.workers} | ${t.flushMaxMessages} | ${fmt(t.messagesPerSec)} | ${fmt(t.distinctPerSec)} | ${t.flushP50Ms} / ${t.flushP99Ms} | ${t.peakRssMb.map((m) => m.toFixed(0)).join(', ')} | ${t.cpuUsPerMessage?.toFixed(1) ?? '-'} |`;
  for (const t of r.matrix) lines.push(row('matrix', t));
  for (const t of r.growth) lines.push(row('growth', t));
  lines.push('');
  if (r.copy && r.oldWay && r.ratios) {
    lines.push('### Baselines (same run, same distinct bars)', '');
    lines.push('| what | rate | ratio |', '| --- | ---: | ---: |');
    lines.push(
      `| COPY of the distinct bars into an empty table (same columns + PK) | ${fmt(r.copy.rowsPerSec)} rows/s | ingest / COPY = ${fx(r.ratios.ingestOverCopy)} |`,
    );
    lines.push(
      `| old way: SELECT then INSERT/UPDATE per message (${fmt(r.oldWay.messages)}-message sample) | ${fmt(r.oldWay.messagesPerSec)} msg/s | ingest / old way = ${fx(r.ratios.ingestOverOldWay, 1)} |`,
    );
    lines.push('', `Ratios use ${r.ratios.basis}.`, '');
  }
  if (r.latency.length > 0) {
    lines.push('### Latency (1 worker, live publishing)', '');
    lines.push(
      '| rate (bars/s) | flush | achieved | seconds | publish-to-committed p50 / p99 / max (ms) | worker flush p50 / p99 (ms) | gap-to-DataGap p50 / p99 / max (ms) |',
    );
    lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const l of r.latency) {
      const gap = l.gapToEventMs ? `${l.gapToEventMs.p50} / ${l.gapToEventMs.p99} / ${l.gapToEventMs.max}` : l.gapNote;
      lines.push(
        `| ${fmt(l.targetRate)} | ${l.flushMaxMessages} | ${fmt(l.achievedRate)} | ${l.seconds.toFixed(0)} | ${l.p50Ms.toFixed(0)} / ${l.p99Ms.toFixed(0)} / ${l.maxMs.toFixed(0)} | ${l.workerFlushP50Ms} / ${l.workerFlushP99Ms} | ${gap} |`,
      );
    }
    lines.push(
      '',
      'Latency is updated_at (flush transaction start) - version_ts (Kafka CreateTime): a lower bound short of the flush duration.',
      '',
    );
  }
  if (r.storage) {
    const s = r.storage;
    lines.push('### Storage', '');
    lines.push('| layout | rows | bytes (table + indexes) | bytes per distinct bar |', '| --- | ---: | ---: | ---: |');
    lines.push(`| shared market_bars | ${fmt(s.storedBars)} | ${fmt(s.sharedBytes)} | ${fx(s.sharedBytesPerBar, 1)} |`);
    lines.push(
      `| legacy per-run (5 runs) | ${fmt(s.legacyRows)} | ${fmt(s.legacyBytes)} | ${fx(s.legacyBytesPerDistinctBar, 1)} |`,
    );
    lines.push(
      '',
      `Shared / legacy (shared including market_series, run_subscriptions, strategy_runs): ${fx(s.ratio, 3)} (ideal with 5 runs: 0.200).`,
      '',
    );
  }
  if (r.soak) lines.push(soakTable(r.soak));
  return lines.join('\n');
}

async function main(): Promise<number> {
  const o = parseArgsOrExit(process.argv.slice(2), DEFAULTS, USAGE);
  const smoke = o.smoke;
  const sizes = smoke ? [20_000] : nums(o.sizes);
  const matrixSize = smoke ? 20_000 : o.matrixSize || sizes[Math.floor(sizes.length / 2)]!;
  const flushSizes = smoke ? [100, 1000] : nums(o.flushSizes);
  const workerCounts = smoke ? [1, 2] : nums(o.workers);
  const growthFlush = o.growthFlush || flushSizes[Math.floor(flushSizes.length / 2)]!;
  const rates = smoke ? [1000] : nums(o.rates);
  const latencySeconds = smoke ? 3 : o.latencySeconds;
  const latencyFlush = smoke ? [100] : nums(o.latencyFlush);
  const oldWaySample = smoke ? 500 : o.oldWaySample;
  const database = o.database || (smoke ? 'bar_ingest_bench_test' : 'bar_ingest_bench');
  const timeoutMs = smoke ? 60_000 : 600_000;
  const scenarios = new Set(o.scenarios.split(',').map((x) => x.trim()));
  for (const x of scenarios) {
    if (!SCENARIOS.includes(x)) throw new ArgsError(`unknown scenario ${x} (one of ${SCENARIOS.join(', ')})`);
  }

  const env = { ...(process.env as Record<string, string>), BI_PG_DATABASE: database };
  if (!o.skipSetup) {
    say(`setting up database ${database}`);
    setUpDatabase(env, database);
  }
  const connections = readConnections(new EnvReader(env), 'bar-ingest-bench');
  const bench = new Bench(env, connections, createKafka(connections.kafka, silentLogger));
  const results: Results = {
    startedAt: new Date().toISOString(),
    smoke,
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version, database },
    options: o,
    matrix: [],
    growth: [],
    latency: [],
    checks: [],
  };
  const problems: string[] = [];
  const check = (ok: boolean, what: string): void => {
    results.checks.push(`${ok ? 'ok' : 'FAILED'}: ${what}`);
    if (!ok) problems.push(what);
  };
  const volumeCache = new Map<Plan, number>();
  const expectedVolume = (p: Plan): number => {
    if (!volumeCache.has(p)) volumeCache.set(p, expectedVolumeSum(p));
    return volumeCache.get(p)!;
  };
  const checkRun = async (t: ThroughputResult, plan: Plan, label: string): Promise<void> => {
    if (t.volumeSum !== expectedVolume(plan)) {
      for (const d of await diffFinalValues(bench.knex, plan)) results.checks.push(`  ${label} diff: ${d}`);
    }
    check(t.stored === plan.distinct, `${label}: ${t.stored} rows stored, expected ${plan.distinct}`);
    check(t.volumeSum === expectedVolume(plan), `${label}: every stored bar holds its final (corrected) values`);
    check(t.gapBars === plan.gapBars, `${label}: gaps stored for ${t.gapBars} missing bars, expected ${plan.gapBars}`);
    check(
      t.filledGaps === 0,
      `${label}: ${t.filledGaps} gaps raised then filled (the stream is in order: none expected)`,
    );
    check(t.revised <= plan.corrections, `${label}: ${t.revised} revised rows, at most ${plan.corrections}`);
    // Redelivery after a rebalance may count a message twice; never fewer.
    check(t.consumed >= plan.messages, `${label}: workers consumed ${t.consumed}, at least ${plan.messages} expected`);
  };

  bench.nodeArgs = o.workerNodeArgs.split(' ').filter(Boolean);
  if (o.profile) {
    const dir = path.join(o.out, 'profiles');
    fs.mkdirSync(dir, { recursive: true });
    bench.nodeArgs.push('--cpu-prof', '--cpu-prof-dir', dir);
  }
  await bench.open();
  try {
    // 1 + 2: throughput matrix on one pre-produced topic, then the baselines on its distinct bars.
    const plan = makePlan(matrixSize);
    say(
      `throughput matrix: ${plan.messages} messages, ${plan.distinct} distinct bars, ${plan.corrections} corrections, ${plan.holes} holes`,
    );
    const stream = await bench.preProduce(plan);
    for (const w of scenarios.has('matrix') ? workerCounts : []) {
      for (const f of flushSizes) {
        const t = await bench.throughput(stream, plan, w, f, timeoutMs);
        await checkRun(t, plan, `matrix ${w}w flush ${f}`);
        results.matrix.push(t);
      }
    }
    // 5: storage, on what the last matrix run stored.
    if (scenarios.has('baselines')) {
      say('storage');
      results.storage = await storage(bench.knex);
      check(results.storage.legacyRows === plan.distinct * 5, `legacy layout holds ${results.storage.legacyRows} rows`);

      say('baselines: COPY and the old way');
      results.copy = await copyBaseline(bench.knex, connections.pgAdmin, plan);
      check(results.copy.rows === plan.distinct, `COPY stored ${results.copy.rows} rows, expected ${plan.distinct}`);
      results.oldWay = await oldWayBaseline(connections.pgAdmin, plan, oldWaySample, OLD_WAY_MAX_MS);
      check(results.oldWay.messages > 0, `old way processed ${results.oldWay.messages} messages`);
      const best1 = results.matrix
        .filter((t) => t.workers === 1)
        .reduce<ThroughputResult | undefined>((a, t) => (!a || t.messagesPerSec > a.messagesPerSec ? t : a), undefined);
      if (best1) {
        results.ratios = {
          ingestOverCopy: best1.distinctPerSec / results.copy.rowsPerSec,
          ingestOverOldWay: best1.messagesPerSec / results.oldWay.messagesPerSec,
          basis: `the best 1-worker matrix run (flush ${best1.flushMaxMessages}): distinct bars/s vs COPY rows/s, messages/s vs old-way messages/s`,
        };
      }
    }
    await stream.release();

    // 3: growth, 1 worker, one flush size.
    for (const size of scenarios.has('growth') ? sizes : []) {
      const p = size === matrixSize ? plan : makePlan(size);
      let t = results.matrix.find((m) => m.workers === 1 && m.flushMaxMessages === growthFlush && size === matrixSize);
      if (!t) {
        say(`growth: ${p.messages} messages`);
        const s = await bench.preProduce(p);
        t = await bench.throughput(s, p, 1, growthFlush, timeoutMs);
        await s.release();
      }
      await checkRun(t, p, `growth ${size}`);
      results.growth.push(t);
    }

    // 4: live latency.
    for (const flush of scenarios.has('latency') ? latencyFlush : []) {
      for (const rate of rates) {
        say(`latency at ${rate} bars/s for ${latencySeconds} s, flush ${flush}`);
        const l = await bench.latency(rate, latencySeconds, flush);
        check(l.stored === l.published, `latency ${rate}/s: ${l.stored} rows stored of ${l.published} published`);
        check(
          l.holes > 0 && l.gapsSeen === l.holes,
          `latency ${rate}/s: ${l.gapsSeen} DataGap events of ${l.holes} holes`,
        );
        results.latency.push(l);
      }
    }
    // 6: soak, last: it runs for minutes.
    const soakMinutes = smoke || !scenarios.has('soak') ? 0 : o.soakMinutes;
    if (soakMinutes > 0) {
      say(`soak: ${o.soakRate} bars/s for ${soakMinutes} min`);
      results.soak = await soak(env, {
        minutes: soakMinutes,
        rate: o.soakRate,
        flush: DEFAULT_FLUSH_MAX_MESSAGES,
        say,
      });
      check(
        results.soak.stored === results.soak.published,
        `soak: ${results.soak.stored} rows stored of ${results.soak.published} published`,
      );
    }
    if (!o.keepData) await truncateData(bench.knex, database);
  } finally {
    say('cleaning up (deleting the bench topics)');
    await bench.close();
    say('done');
  }

  results.finishedAt = new Date().toISOString();
  fs.mkdirSync(o.out, { recursive: true });
  const file = path.join(o.out, `${results.startedAt.replace(/[:.]/g, '-')}${smoke ? '-smoke' : ''}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(table(results) + '\n');
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), file)}\n`);
  if (problems.length > 0) {
    process.stderr.write(`bench: ${problems.length} check(s) failed:\n  ${problems.join('\n  ')}\n`);
    return 1;
  }
  say(`all ${results.checks.length} checks passed`);
  return 0;
}

if (require.main === module) {
  runCommand('bench', USAGE, main);
}
