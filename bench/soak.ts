/**
 * Soak: one ingest worker (as shipped, gap detection on) fed new bars at a steady rate for
 * minutes; its RSS and heap sampled every 10 s (bench/heap-probe.cjs, preloaded), the slope of
 * each reported in MB per minute (least squares, after a one-minute warm-up), and the
 * publish-to-committed latency per minute of publishing. A leak or a slow drift shows as a number.
 *
 *   tsx bench/soak.ts --minutes 10 --rate 3000      (also: make soak MINUTES=.. RATE=..)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Partitioners } from 'kafkajs';
import type { Knex } from 'knex';
import { createKafka, ensureTopics, topicSpecs } from '../shared/adapters/kafka';
import { createKnex } from '../shared/adapters/postgres';
import { RegistryCodec } from '../shared/adapters/registry';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { silentLogger } from '../shared/runtime/log';
import { DEFAULT_FLUSH_MAX_MESSAGES } from '../shared/runtime/pipeline-settings';
import { ArgsError, parseArgsOrExit, runCommand } from '../shared/runtime/args';
import { registerSchemas } from '../shared/adapters/provisioning';
import { FastEncoder } from './dataset';
import { setUpDatabase, truncateData } from './db';
import { liveMessages, publishAtRate } from './latency';
import { RECOMMENDED_NODE_ARGS, ROOT, waitForLag0, WorkerProcess } from './procs';

export interface SoakResult {
  minutes: number;
  targetRate: number;
  achievedRate: number;
  published: number;
  stored: number;
  flushMaxMessages: number;
  samples: Array<{ sec: number; rssMb: number; heapUsedMb: number; heapTotalMb: number }>;
  rssSlopeMbPerMin: number;
  heapUsedSlopeMbPerMin: number;
  perMinute: Array<{ minute: number; bars: number; p50Ms: number; p99Ms: number; maxMs: number }>;
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** Publish-to-committed per minute of publishing (see latency.ts for the method and its bias). */
async function latencyPerMinute(knex: Knex, startMs: number): Promise<SoakResult['perMinute']> {
  const { rows } = await knex.raw<{
    rows: Array<{ minute: number; n: string; p50: number; p99: number; max: number }>;
  }>(
    `SELECT floor(extract(epoch FROM version_ts - to_timestamp(? / 1000.0)) / 60)::int AS minute, count(*) AS n,
            percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
       FROM (SELECT version_ts, extract(epoch FROM updated_at - version_ts) * 1000 AS ms FROM market_bars) t
      GROUP BY 1 ORDER BY 1`,
    [startMs],
  );
  return rows.map((r) => ({
    minute: Number(r.minute) + 1,
    bars: Number(r.n),
    p50Ms: Math.round(Number(r.p50)),
    p99Ms: Math.round(Number(r.p99)),
    maxMs: Math.round(Number(r.max)),
  }));
}

export async function soak(
  env: Record<string, string>,
  o: { minutes: number; rate: number; flush: number; say: (m: string) => void },
): Promise<SoakResult> {
  const prefix = `soak-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}.`;
  const streamEnv = { ...env, BI_TOPIC_PREFIX: prefix };
  const connections = readConnections(new EnvReader(streamEnv), 'bar-ingest-soak');
  const kafka = createKafka(connections.kafka, silentLogger);
  const admin = kafka.admin();
  const knex = createKnex(connections.pgAdmin, { min: 0, max: 2 });
  const probe = path.join(os.tmpdir(), `${prefix}heap.jsonl`);
  await admin.connect();
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  let worker: WorkerProcess | undefined;
  try {
    await truncateData(knex, connections.pgAdmin.database);
    await ensureTopics(admin, topicSpecs(connections.topics));
    await registerSchemas(connections);
    await producer.connect();
    const codec = new RegistryCodec(connections.registryUrl);
    const encoder = await FastEncoder.create(codec, connections.topics.bars);
    const total = Math.round(o.rate * o.minutes * 60);
    const { messages } = liveMessages(encoder, total);
    const groupId = `${prefix}ingest`;
    worker = await WorkerProcess.start(
      {
        ...streamEnv,
        BI_INGEST_GROUP_ID: groupId,
        BI_FLUSH_MAX_MESSAGES: String(o.flush),
        BI_HEAP_PROBE_FILE: probe,
        BI_HEAP_PROBE_MS: '10000',
      },
      [...RECOMMENDED_NODE_ARGS, '--require', path.join(ROOT, 'bench/heap-probe.cjs')],
    );
    await worker.started();
    await waitForLag0(admin, connections.topics.bars, groupId, 30_000, [worker]).catch(() => undefined);
    const startMs = Date.now();
    o.say(`soak: ${total} bars at ${o.rate}/s for ${o.minutes} min, flush ${o.flush}, worker pid ${worker.pid}`);
    // A minute at a time, so progress shows.
    const perMinute = o.rate * 60;
    let published = 0;
    for (let i = 0; i < messages.length; i += perMinute) {
      const r = await publishAtRate(producer, connections.topics.bars, messages.slice(i, i + perMinute), o.rate);
      published += r.published;
      const rss = worker.peakRss() / 1024 / 1024;
      o.say(`  minute ${i / perMinute + 1}: published ${published}, peak RSS so far ${rss.toFixed(0)} MB`);
    }
    const achievedRate = published / ((Date.now() - startMs) / 1000);
    await waitForLag0(admin, connections.topics.bars, groupId, 300_000, [worker]);
    const samples = fs
      .readFileSync(probe, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { t: number; rss: number; heapUsed: number; heapTotal: number })
      .map((s) => ({
        sec: Math.round((s.t - startMs) / 1000),
        rssMb: s.rss / 2 ** 20,
        heapUsedMb: s.heapUsed / 2 ** 20,
        heapTotalMb: s.heapTotal / 2 ** 20,
      }));
    // The first minute is warm-up (JIT, caches, the heap growing to its working size).
    const steady = samples.filter((s) => s.sec >= 60);
    const used = steady.length >= 3 ? steady : samples.filter((s) => s.sec >= 0);
    const { rows } = await knex.raw<{ rows: Array<{ n: string }> }>('SELECT count(*) AS n FROM market_bars');
    return {
      minutes: o.minutes,
      targetRate: o.rate,
      achievedRate,
      published,
      stored: Number(rows[0]!.n),
      flushMaxMessages: o.flush,
      samples,
      rssSlopeMbPerMin: slope(used.map((s) => [s.sec / 60, s.rssMb])),
      heapUsedSlopeMbPerMin: slope(used.map((s) => [s.sec / 60, s.heapUsedMb])),
      perMinute: await latencyPerMinute(knex, startMs),
    };
  } finally {
    await worker?.stop();
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: Object.values(connections.topics) }).catch(() => undefined);
    await admin.disconnect();
    await knex.destroy();
    fs.rmSync(probe, { force: true });
  }
}

export function soakTable(r: SoakResult): string {
  const lines = [
    `### Soak (1 worker, ${r.targetRate} bars/s for ${r.minutes} min, flush ${r.flushMaxMessages}, gap detection on)`,
    '',
    `Achieved ${Math.round(r.achievedRate)} bars/s, ${r.stored} of ${r.published} bars stored. ` +
      `RSS slope ${r.rssSlopeMbPerMin.toFixed(2)} MB/min, heap-used slope ${r.heapUsedSlopeMbPerMin.toFixed(2)} MB/min ` +
      `(least squares over the 10 s samples after the first minute; RSS ${Math.min(...r.samples.map((s) => s.rssMb)).toFixed(0)}-${Math.max(...r.samples.map((s) => s.rssMb)).toFixed(0)} MB).`,
    '',
    '| minute | bars | publish-to-committed p50 / p99 / max (ms) |',
    '| ---: | ---: | ---: |',
    ...r.perMinute.map((m) => `| ${m.minute} | ${m.bars} | ${m.p50Ms} / ${m.p99Ms} / ${m.maxMs} |`),
    '',
  ];
  return lines.join('\n');
}

const USAGE = `bar-ingest soak: one worker at a steady rate, memory and latency over time

Usage: tsx bench/soak.ts [--minutes M] [--rate N] [--flush N] [--database NAME] [--skip-setup] [--out DIR]

  --minutes M     minutes of publishing (default 10; decimals allowed)
  --rate N        bars per second (default 2000)
  --flush N       BI_FLUSH_MAX_MESSAGES of the worker (default 5000, the worker's default)
  --database NAME PostgreSQL database (default bar_ingest_bench)
  --out DIR       where the JSON goes (default bench/results)`;

async function main(): Promise<number> {
  const o = parseArgsOrExit(
    process.argv.slice(2),
    {
      minutes: 10,
      rate: 2000,
      flush: DEFAULT_FLUSH_MAX_MESSAGES,
      database: 'bar_ingest_bench',
      skipSetup: false,
      out: path.join(ROOT, 'bench/results'),
    },
    USAGE,
    (a) => {
      if (a.minutes <= 0 || a.rate <= 0) throw new ArgsError('--minutes and --rate must be positive');
    },
  );
  const T0 = Date.now();
  const say = (m: string): void =>
    void process.stderr.write(`[soak ${((Date.now() - T0) / 1000).toFixed(0).padStart(5)}s] ${m}\n`);
  const env = { ...(process.env as Record<string, string>), BI_PG_DATABASE: o.database };
  if (!o.skipSetup) setUpDatabase(env, o.database);
  const r = await soak(env, { minutes: o.minutes, rate: o.rate, flush: o.flush, say });
  fs.mkdirSync(o.out, { recursive: true });
  const file = path.join(o.out, `${new Date(T0).toISOString().replace(/[:.]/g, '-')}-soak.json`);
  fs.writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  process.stdout.write(`${soakTable(r)}\nresults: ${path.relative(process.cwd(), file)}\n`);
  return r.stored === r.published ? 0 : 1;
}

if (require.main === module) {
  runCommand('soak', USAGE, main);
}
