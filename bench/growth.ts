/**
 * Growth measured where it hurts (issue 18): live ingest and gap detection on top of a large
 * history, in a partitioned store (the default schema) and in a plain one (the partitioning
 * migration rolled back), at a few history sizes: 0, 1/3, 2/3 and all of --bars.
 *
 * For each store, in its own database (bar_ingest_growth_part, bar_ingest_growth_flat):
 *  1. 200 live series are registered; nothing else is stored.
 *  2. At each history size: one ingest worker (a real process, as shipped) catches up on
 *     --messages pre-produced live bars (throughput), then a second stream is published at --rate
 *     bars/s while a worker ingests it (p50/p99 publish-to-committed and gap-to-DataGap latency,
 *     the method of bench/latency.ts). Every 10th series skips one bar in 50, so gap detection
 *     reads bars from the big table all along.
 *  3. The next third of the history is loaded with COPY FROM STDIN (pg-copy-streams), most recent
 *     third first, each older than the one before (the foreign key dropped during the COPY and
 *     re-added, validated, after: its per-row check tripled the load time); then VACUUM ANALYZE.
 * The history is the same 200 series back in time, 1-minute bars, so the live bars land at the
 * right edge of each series' primary-key range and in the newest partition. At the end: table
 * and index sizes, and the upsert's EXPLAIN with the partitions a one-bar upsert touched.
 *
 * Not part of `make test`: `make bench-growth [ARGS='--bars 30000000']`. Results to
 * bench/results/growth-<timestamp>.json.
 */
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createKafka, ensureTopics, topicSpecs } from '../shared/adapters/kafka';
import { listBarPartitions, relationTotalBytes } from '../shared/adapters/bar-partitions';
import { WRITE_FLUSH_SQL, writeFlushParameters } from '../shared/adapters/bar-store';
import type { BarRow } from '../shared/domain/flush';
import { createKnex, migrateLatest, MIGRATIONS_DIR, pgConnectionOptions } from '../shared/adapters/postgres';
import { RegistryCodec } from '../shared/adapters/registry';
import { ArgsError, parseArgsOrExit, runCommand } from '../shared/runtime/args';
import { EnvReader } from '../shared/runtime/config';
import { Connections, readConnections } from '../shared/runtime/connections';
import { silentLogger } from '../shared/runtime/log';
import { registerSchemas } from '../shared/adapters/provisioning';
import { benchSeries, FastEncoder } from './dataset';
import { setUpDatabase } from './db';
import { gapLatency, liveMessages, publishAtRate } from './latency';
import { RECOMMENDED_NODE_ARGS, ROOT, waitForLag0, WorkerProcess } from './procs';
import { sleep } from '../shared/runtime/sleep';

const USAGE = `bar-ingest growth benchmark: live ingest on top of a large history, partitioned and not

Usage: tsx bench/growth.ts [options]     (make bench-growth ARGS='...')

  --bars N              history bars per store at the largest size (default 30000000)
  --steps N             history sizes measured besides 0: 1/N, 2/N ... N/N (default 3)
  --messages N          pre-produced live messages the throughput run catches up on (default 200000)
  --rate N              bars/s of the latency run (default 5000)
  --latency-seconds N   seconds of publishing at --rate (default 20)
  --flush N             BI_FLUSH_MAX_MESSAGES of the workers (default 1000)
  --stores LIST         partitioned,flat (default both, in that order)
  --out DIR             results directory (default bench/results)
  --help

Needs the stack (make up) and about 180 bytes of disk per bar per store (x2 during VACUUM).
Its databases are bar_ingest_growth_part and bar_ingest_growth_flat (emptied at the start).`;

const DEFAULTS = {
  bars: 30_000_000,
  steps: 3,
  messages: 200_000,
  rate: 5_000,
  latencySeconds: 20,
  flush: 1000,
  stores: 'partitioned,flat',
  out: path.join(ROOT, 'bench/results'),
};

const MIGRATION = '20261127000020_partitioned_market_bars.ts';
const SERIES = 200;
const MIN = 60_000;
const T0 = Date.now();
const say = (msg: string): void =>
  void process.stderr.write(`[growth ${((Date.now() - T0) / 1000).toFixed(1).padStart(7)}s] ${msg}\n`);
const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const mib = (n: number): string => `${(n / 1048576).toFixed(0)} MiB`;

type StoreKind = 'partitioned' | 'flat';

interface PointResult {
  store: StoreKind;
  historyBars: number;
  storedBars: number;
  throughput: { messages: number; seconds: number; msgPerSec: number; flushP50Ms: number; flushP99Ms: number };
  /** Share of the worker's wall time in each flush stage (write, gaps, ...). */
  stageShare: Record<string, number>;
  latency: {
    rate: number;
    achievedRate: number;
    published: number;
    stored: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    gapToEventMs: { p50: number; p99: number; max: number } | null;
    gapNote: string;
  };
  sizes: Sizes;
}

interface Sizes {
  heapBytes: number;
  indexBytes: number;
  totalBytes: number;
  partitions: number;
}

interface LoadResult {
  store: StoreKind;
  rows: number;
  copySeconds: number;
  rowsPerSec: number;
  vacuumSeconds: number;
}

/** Everything the bench talks to for one store: its database, Kafka, the registry. */
class Store {
  readonly env: Record<string, string>;
  readonly connections: Connections;
  readonly knex: Knex;
  readonly kafka: Kafka;
  readonly admin: Admin;
  seriesIds: number[] = [];

  constructor(
    readonly kind: StoreKind,
    readonly database: string,
  ) {
    this.env = { ...(process.env as Record<string, string>), BI_PG_DATABASE: database };
    this.connections = readConnections(new EnvReader(this.env), 'bar-ingest-growth');
    this.knex = createKnex(this.connections.pgAdmin, { min: 0, max: 2 });
    this.kafka = createKafka(this.connections.kafka, silentLogger);
    this.admin = this.kafka.admin();
  }

  async open(): Promise<void> {
    setUpDatabase(this.env, this.database);
    await this.admin.connect();
    const partitioned = await this.isPartitioned();
    if (this.kind === 'flat' && partitioned)
      await this.knex.migrate.down({ directory: MIGRATIONS_DIR, loadExtensions: ['.ts', '.js'], name: MIGRATION });
    if (this.kind === 'partitioned' && !partitioned) await migrateLatest(this.knex);
    if ((await this.isPartitioned()) !== (this.kind === 'partitioned'))
      throw new Error(`${this.database}: wrong schema`);
    if (!this.database.startsWith('bar_ingest_growth')) throw new Error(`refusing to empty ${this.database}`);
    await this.knex.raw(
      'TRUNCATE data_gaps, connection_sessions, run_subscriptions, strategy_runs, market_bars, market_series RESTART IDENTITY CASCADE',
    );
    // The live series of bench/latency.ts, canonical as the workers store them (LAAAUSDT at Binance -> LAAA/USDT, 1m -> 1-Min).
    const rows = await this.knex('market_series')
      .insert(
        benchSeries(SERIES, 'L').map((s) => ({
          symbol: s.symbol.replace(/USDT$/, '/USDT'),
          timeframe: '1-Min',
          provider: s.provider,
          venue: s.venue,
        })),
      )
      .returning<Array<{ id: string }>>('id');
    this.seriesIds = rows.map((r) => Number(r.id));
  }

  async isPartitioned(): Promise<boolean> {
    const { rows } = await this.knex.raw<{ rows: Array<{ k: string }> }>(
      `SELECT relkind AS k FROM pg_class WHERE oid = 'market_bars'::regclass`,
    );
    return rows[0]!.k === 'p';
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
    await this.knex.destroy();
  }

  async seriesCount(): Promise<number> {
    const { rows } = await this.knex.raw<{ rows: Array<{ n: number }> }>(
      'SELECT count(*)::int AS n FROM market_series',
    );
    return rows[0]!.n;
  }

  async storedBars(): Promise<number> {
    // The planner's estimate summed over partitions would do, but the bench wants the exact figure.
    const { rows } = await this.knex.raw<{ rows: Array<{ n: string }> }>('SELECT count(*) AS n FROM market_bars');
    return Number(rows[0]!.n);
  }

  async sizes(): Promise<Sizes> {
    const { rows } = await this.knex.raw<{ rows: Array<{ heap: string; idx: string; parts: number }> }>(
      `SELECT coalesce(sum(pg_table_size(relid)), 0) AS heap, coalesce(sum(pg_indexes_size(relid)), 0) AS idx,
              count(*) FILTER (WHERE isleaf)::int AS parts
         FROM (SELECT relid, isleaf FROM pg_partition_tree('market_bars'::regclass)
               UNION ALL SELECT 'market_bars'::regclass, true WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree('market_bars'::regclass))) t`,
    );
    const r = rows[0]!;
    return {
      heapBytes: Number(r.heap),
      indexBytes: Number(r.idx),
      totalBytes: await relationTotalBytes(this.knex, 'market_bars'),
      partitions: this.kind === 'partitioned' ? r.parts : 0,
    };
  }
}

/** One topic set (unique prefix) with schemas registered and a producer. */
async function newStream(store: Store): Promise<{
  env: Record<string, string>;
  topic: string;
  gaps: string;
  producer: Producer;
  codec: RegistryCodec;
  encoder: FastEncoder;
  connections: Connections;
}> {
  const prefix = `growth-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}.`;
  const env = { ...store.env, BI_TOPIC_PREFIX: prefix };
  const connections = readConnections(new EnvReader(env), 'bar-ingest-growth');
  await ensureTopics(store.admin, topicSpecs(connections.topics));
  await registerSchemas(connections);
  const producer = store.kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const codec = new RegistryCodec(connections.registry);
  const encoder = await FastEncoder.create(codec, connections.topics.bars);
  return { env, topic: connections.topics.bars, gaps: connections.topics.gaps, producer, codec, encoder, connections };
}

/** The live messages of a window [startMs, startMs + count / SERIES minutes) of the 200 series. */
function windowMessages(encoder: FastEncoder, count: number, startMs: number): { messages: Message[]; holes: number } {
  const perSeries = Math.ceil(count / SERIES);
  // liveMessages puts its bars in [now - (perSeries + 5) min, now - 5 min).
  const { messages, holes } = liveMessages(encoder, count, startMs + (perSeries + 5) * MIN);
  return { messages, holes };
}

/** Publish-to-committed of the window's bars (version_ts = CreateTime, updated_at = the flush's transaction start). */
async function windowLatency(
  store: Store,
  fromMs: number,
  toMs: number,
): Promise<{ stored: number; p50: number; p99: number; max: number }> {
  const { rows } = await store.knex.raw<{ rows: Array<{ n: string; p50: number; p99: number; max: number }> }>(
    `SELECT count(*) AS n, percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
       FROM (SELECT extract(epoch FROM updated_at - version_ts) * 1000 AS ms FROM market_bars
              WHERE series_id = ANY(?::bigint[]) AND ts_utc >= to_timestamp(?::float8 / 1000)
                AND ts_utc < to_timestamp(?::float8 / 1000)) t`,
    [store.seriesIds, fromMs, toMs],
  );
  const r = rows[0]!;
  return { stored: Number(r.n), p50: Number(r.p50), p99: Number(r.p99), max: Number(r.max) };
}

async function produceAll(producer: Producer, topic: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 5_000)
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5_000) });
}

function workerEnv(env: Record<string, string>, flush: number): Record<string, string> {
  const group = `${env.BI_TOPIC_PREFIX}ingest-${crypto.randomBytes(2).toString('hex')}`;
  // Continuity state of its own: seeded from PostgreSQL (the last stored bar of each series).
  return { ...env, BI_INGEST_GROUP_ID: group, BI_REDIS_NAMESPACE: `${group}:`, BI_FLUSH_MAX_MESSAGES: String(flush) };
}

async function measure(
  store: Store,
  o: typeof DEFAULTS,
  windowStartMs: number,
  historyBars: number,
): Promise<PointResult> {
  // 1. Throughput: catch up on pre-produced live bars.
  const tp = await newStream(store);
  const tpWindow = windowMessages(tp.encoder, o.messages, windowStartMs);
  await produceAll(tp.producer, tp.topic, tpWindow.messages);
  const tpEnv = workerEnv(tp.env, o.flush);
  const w1 = await WorkerProcess.start(tpEnv, RECOMMENDED_NODE_ARGS);
  let throughput: PointResult['throughput'];
  let stageShare: Record<string, number> = {};
  try {
    const startedAt = await w1.started(120_000);
    await waitForLag0(store.admin, tp.topic, tpEnv.BI_INGEST_GROUP_ID!, 600_000, [w1]);
    const seconds = (Date.now() - startedAt) / 1000;
    const snap = await w1.snapshot();
    throughput = {
      messages: tpWindow.messages.length,
      seconds,
      msgPerSec: tpWindow.messages.length / seconds,
      flushP50Ms: snap.flush_ms_p50,
      flushP99Ms: snap.flush_ms_p99,
    };
    stageShare = Object.fromEntries(
      Object.entries(snap.stage_ms_total).map(([k, v]) => [k, Math.round((v / 1000 / seconds) * 100) / 100]),
    );
  } finally {
    await w1.stop();
    await tp.producer.disconnect();
  }
  const seriesAfter = await store.seriesCount();
  if (seriesAfter !== SERIES)
    throw new Error(`the workers created series of their own (${seriesAfter}, expected ${SERIES})`);

  // 2. Latency at a steady rate, right after the throughput window.
  const latStart = windowStartMs + Math.ceil(o.messages / SERIES) * MIN;
  const lt = await newStream(store);
  const count = o.rate * o.latencySeconds;
  const ltWindow = windowMessages(lt.encoder, count, latStart);
  const ltEnv = workerEnv(lt.env, o.flush);
  const w2 = await WorkerProcess.start(ltEnv, RECOMMENDED_NODE_ARGS);
  let latency: PointResult['latency'];
  try {
    await w2.started(120_000);
    // Let the group join settle, so the first bars do not measure the join.
    await waitForLag0(store.admin, lt.topic, ltEnv.BI_INGEST_GROUP_ID!, 30_000, [w2]).catch(() => undefined);
    const pub = await publishAtRate(lt.producer, lt.topic, ltWindow.messages, o.rate);
    await waitForLag0(store.admin, lt.topic, ltEnv.BI_INGEST_GROUP_ID!, 300_000, [w2]);
    const rows = await windowLatency(store, latStart, latStart + Math.ceil(count / SERIES) * MIN);
    const gap = await gapLatency(store.kafka, lt.codec, store.knex, lt.gaps, ltWindow.holes);
    latency = {
      rate: o.rate,
      achievedRate: pub.published / (pub.ms / 1000),
      published: pub.published,
      stored: rows.stored,
      p50Ms: rows.p50,
      p99Ms: rows.p99,
      maxMs: rows.max,
      gapToEventMs: gap.value,
      gapNote: gap.note,
    };
  } finally {
    await w2.stop();
    await lt.producer.disconnect();
  }
  await store.admin
    .deleteTopics({ topics: [...Object.values(tp.connections.topics), ...Object.values(lt.connections.topics)] })
    .catch(() => undefined);
  const result: PointResult = {
    store: store.kind,
    historyBars,
    storedBars: await store.storedBars(),
    throughput,
    stageShare,
    latency,
    sizes: await store.sizes(),
  };
  say(
    `  ${store.kind} @ ${fmt(historyBars)} history bars: ${fmt(throughput.msgPerSec)} msg/s (flush p99 ${throughput.flushP99Ms} ms), ` +
      `live ${o.rate}/s p50/p99 ${fmt(latency.p50Ms)}/${fmt(latency.p99Ms)} ms, gap-to-DataGap p99 ${latency.gapToEventMs?.p99 ?? 'n/a'} ms ` +
      `(${latency.gapNote}); stages ${JSON.stringify(stageShare)}; total ${mib(result.sizes.totalBytes)}`,
  );
  return result;
}

/** COPY FROM STDIN of the live series' 1-minute bars in [fromMs, toMs), minute by minute. */
async function loadHistory(store: Store, fromMs: number, toMs: number): Promise<LoadResult> {
  const client = new Client(pgConnectionOptions(store.connections.pgAdmin));
  await client.connect();
  const started = performance.now();
  let rows = 0;
  // Without the foreign key's per-row check during the load (re-added and validated in one scan after;
  // IF EXISTS: an interrupted run leaves it dropped).
  await store.knex.raw('ALTER TABLE market_bars DROP CONSTRAINT IF EXISTS market_bars_series_id_foreign');
  try {
    const stream = client.query(
      copyFrom(
        'COPY market_bars (series_id, ts_utc, open, high, low, close, volume, source, revision, version_ts, updated_at) FROM STDIN',
      ),
    );
    const done = new Promise<void>((resolve, reject) => {
      stream.on('finish', resolve);
      stream.on('error', reject);
    });
    const ids = store.seriesIds;
    const version = new Date(toMs).toISOString();
    let chunk = '';
    for (let t = fromMs; t < toMs; t += MIN) {
      const ts = new Date(t).toISOString();
      const k = (t / MIN) % 1000;
      for (let s = 0; s < ids.length; s++) {
        const base = 10 + s * 3.7 + k * 0.01;
        chunk += `${ids[s]}\t${ts}\t${base}\t${base + 0.5}\t${base - 0.5}\t${base + 0.25}\t${k + s}\tHISTORY\t0\t${version}\t${version}\n`;
      }
      rows += ids.length;
      if (chunk.length > 1 << 20) {
        if (!stream.write(chunk)) await once(stream, 'drain');
        chunk = '';
      }
    }
    stream.end(chunk);
    await done;
  } finally {
    await client.end();
  }
  await store.knex.raw(
    'ALTER TABLE market_bars ADD CONSTRAINT market_bars_series_id_foreign FOREIGN KEY (series_id) REFERENCES market_series (id)',
  );
  const copySeconds = (performance.now() - started) / 1000;
  const v = performance.now();
  await store.knex.raw('VACUUM ANALYZE market_bars');
  const result: LoadResult = {
    store: store.kind,
    rows,
    copySeconds,
    rowsPerSec: rows / copySeconds,
    vacuumSeconds: (performance.now() - v) / 1000,
  };
  say(
    `  ${store.kind}: COPY ${fmt(rows)} bars in ${copySeconds.toFixed(0)} s (${fmt(result.rowsPerSec)} rows/s), VACUUM ANALYZE ${result.vacuumSeconds.toFixed(0)} s`,
  );
  return result;
}

/** The flush statement of bar-store.ts for one existing and one new bar, EXPLAINed and rolled back; and what it touched. */
async function explainUpsert(
  store: Store,
  existingMs: number,
  newMs: number,
): Promise<{
  plan: string[];
  touched: Array<Record<string, unknown>>;
  gapQueryPlan: string[];
  gapQueryPlanBefore: string[];
}> {
  const id = store.seriesIds[0]!;
  const client = new Client(pgConnectionOptions(store.connections.pgAdmin));
  await client.connect();
  try {
    await client.query('BEGIN');
    // The worker's own statement (bar-store.ts), for one existing and one new bar.
    const bar = (tsMs: number): BarRow => ({
      seriesId: id,
      tsMs,
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 9,
      source: 'LIVE',
      versionMs: Date.now(),
    });
    const explain = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) ${WRITE_FLUSH_SQL}`,
      writeFlushParameters([bar(existingMs), bar(newMs)], []),
    );
    // What this transaction did to each relation: only the partition of the two bars should appear.
    const touched = await client.query(
      `SELECT relname, idx_scan, seq_scan, n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables
        WHERE relname LIKE 'market_bars%' AND (coalesce(idx_scan, 0) + coalesce(seq_scan, 0) + n_tup_ins + n_tup_upd) > 0
        ORDER BY relname`,
    );
    await client.query('ROLLBACK');
    // Gap detection's read (GapStore.barTimes) of one series' last hour: the shipped form (both bounds
    // as comparisons) and the form before this bench (`after_ms IS NULL OR ts_utc > after`), which
    // the index could not use as a lower bound.
    const gapQuery = async (lower: string) =>
      (
        await client.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF)
           SELECT v.idx, b.ts_utc FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(idx, id, after_ms, upto_ms)
             JOIN market_bars b ON b.series_id = v.id AND ${lower}
                  AND b.ts_utc <= timestamptz 'epoch' + interval '1 millisecond' * v.upto_ms
            ORDER BY v.idx, b.ts_utc`,
          [[0], [id], [existingMs - 3_600_000], [existingMs]],
        )
      ).rows.map((r) => r['QUERY PLAN']);
    const gapQueryPlan = await gapQuery(
      `b.ts_utc > coalesce(timestamptz 'epoch' + interval '1 millisecond' * v.after_ms, '-infinity')`,
    );
    const gapQueryPlanBefore = await gapQuery(
      `(v.after_ms IS NULL OR b.ts_utc > timestamptz 'epoch' + interval '1 millisecond' * v.after_ms)`,
    );
    return {
      plan: explain.rows.map((r) => r['QUERY PLAN']),
      touched: touched.rows as Array<Record<string, unknown>>,
      gapQueryPlan,
      gapQueryPlanBefore,
    };
  } finally {
    await client.end();
  }
}

function table(points: PointResult[]): string {
  const lines = [
    '| store | history bars | stored bars | catch-up msg/s | flush p50 / p99 (ms) | live p50 / p99 / max (ms) | gap-to-DataGap p50 / p99 (ms) | heap / index / total |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const p of points) {
    const g = p.latency.gapToEventMs;
    lines.push(
      `| ${p.store} | ${fmt(p.historyBars)} | ${fmt(p.storedBars)} | ${fmt(p.throughput.msgPerSec)} | ${p.throughput.flushP50Ms} / ${p.throughput.flushP99Ms} | ` +
        `${fmt(p.latency.p50Ms)} / ${fmt(p.latency.p99Ms)} / ${fmt(p.latency.maxMs)} | ${g ? `${g.p50} / ${g.p99}` : 'n/a'} | ` +
        `${mib(p.sizes.heapBytes)} / ${mib(p.sizes.indexBytes)} / ${mib(p.sizes.totalBytes)} |`,
    );
  }
  return lines.join('\n');
}

async function runStore(kind: StoreKind, o: typeof DEFAULTS, nowMs: number) {
  const store = new Store(kind, kind === 'partitioned' ? 'bar_ingest_growth_part' : 'bar_ingest_growth_flat');
  await store.open();
  try {
    // Time line: history [historyStart, liveStart), then one live window per point, ending before now.
    const perPointMinutes = Math.ceil(o.messages / SERIES) + Math.ceil((o.rate * o.latencySeconds) / SERIES);
    const liveStart = Math.floor(nowMs / MIN) * MIN - (o.steps + 1) * perPointMinutes * MIN - 30 * MIN;
    const historyMinutes = Math.ceil(o.bars / SERIES);
    const stepMinutes = Math.ceil(historyMinutes / o.steps);
    if (kind === 'partitioned') {
      const { rows } = await store.knex.raw<{ rows: Array<{ n: number }> }>(
        "SELECT ensure_market_bar_partitions(to_timestamp(?::float8 / 1000), now() + interval '62 days') AS n",
        [liveStart - o.steps * stepMinutes * MIN],
      );
      say(`${kind}: ${rows[0]!.n} partitions created for the history`);
    }
    const points: PointResult[] = [];
    const loads: LoadResult[] = [];
    let history = 0;
    for (let k = 0; k <= o.steps; k++) {
      if (k > 0) {
        const to = liveStart - (k - 1) * stepMinutes * MIN;
        const load = await loadHistory(store, to - stepMinutes * MIN, to);
        loads.push(load);
        history += load.rows;
      }
      say(`${kind}: measuring with ${fmt(history)} history bars`);
      points.push(await measure(store, o, liveStart + k * perPointMinutes * MIN, history));
    }
    const lastWindowEnd = liveStart + (o.steps + 1) * perPointMinutes * MIN;
    const explain = await explainUpsert(store, lastWindowEnd - 10 * MIN, lastWindowEnd + 5 * MIN);
    const partitions =
      kind === 'partitioned'
        ? (await listBarPartitions(store.knex)).map((p) => ({ name: p.name, bytes: p.bytes }))
        : [];
    return { points, loads, explain, partitions };
  } finally {
    await store.close();
  }
}

async function main(): Promise<number> {
  const o = parseArgsOrExit(process.argv.slice(2), DEFAULTS, USAGE, (a) => {
    for (const k of ['bars', 'steps', 'messages', 'rate', 'latencySeconds', 'flush'] as const)
      if (!Number.isInteger(a[k]) || a[k] < (k === 'bars' ? 0 : 1))
        throw new ArgsError(`--${k} must be a positive integer`);
  });
  const stores = o.stores.split(',').map((s) => s.trim()) as StoreKind[];
  if (stores.some((s) => s !== 'partitioned' && s !== 'flat')) {
    process.stderr.write(`--stores takes partitioned and/or flat\n`);
    return 2;
  }
  const startedAt = new Date();
  const nowMs = Date.now();
  const results: Record<string, Awaited<ReturnType<typeof runStore>>> = {};
  for (const kind of stores) results[kind] = await runStore(kind, o, nowMs);
  const points = stores.flatMap((k) => results[k]!.points);
  const out = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: o,
    machine: { cores: (await import('node:os')).cpus().length, loadavg: (await import('node:os')).loadavg() },
    results,
  };
  fs.mkdirSync(o.out, { recursive: true });
  const file = path.join(o.out, `growth-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(out, null, 2));
  process.stdout.write(`\n${table(points)}\n\n`);
  for (const kind of stores) {
    const r = results[kind]!;
    process.stdout.write(
      `${kind}: COPY ${r.loads.map((l) => `${fmt(l.rows)} bars at ${fmt(l.rowsPerSec)}/s`).join(', ')}\n`,
    );
    process.stdout.write(
      `${kind}: upsert of one existing and one new bar, EXPLAIN ANALYZE:\n  ${r.explain.plan.join('\n  ')}\n`,
    );
    process.stdout.write(`${kind}: relations the upsert touched: ${JSON.stringify(r.explain.touched)}\n`);
    process.stdout.write(
      `${kind}: gap detection's read of one series' last hour:\n  ${r.explain.gapQueryPlan.join('\n  ')}\n`,
    );
    process.stdout.write(
      `${kind}: the same read as it was before (OR on the lower bound):\n  ${r.explain.gapQueryPlanBefore.join('\n  ')}\n`,
    );
  }
  process.stdout.write(`\nresults: ${path.relative(ROOT, file)}\n`);
  await sleep(0);
  return 0;
}

runCommand('growth bench', USAGE, main);
