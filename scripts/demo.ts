/**
 * `make demo`: the main job end to end on the local stack. Starts two ingest workers (one consumer
 * group) and a continuity worker, runs the reference exporter (several strategy runs sending the
 * same bars, one ticker spelled differently at several venues, plus one bad message of each kind)
 * with the story of gaps of exporter/story.ts: an exporter outage that becomes OFFLINE gaps, a
 * quiet market that becomes a NO_ACTIVITY gap, a hole with no connection information (UNKNOWN),
 * and the backfill loop answered by the exporter's history. Waits until every message is
 * committed and every gap has settled, stops the workers gracefully and prints what PostgreSQL now
 * holds: series, gaps with kind and final status, run verdicts, and where to see them on the page.
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Partitioners } from 'kafkajs';
import type { Knex } from 'knex';
import { consumerLag, createKafka } from '../shared/adapters/kafka';
import { createKnex } from '../shared/adapters/postgres';
import { ReadModel } from '../shared/adapters/read-model';
import { RegistryCodec } from '../shared/adapters/registry';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { createLogger, silentLogger } from '../shared/runtime/log';
import { loadConfigOrExit } from '../shared/runtime/process';
import { sleep } from '../shared/runtime/sleep';
import { HistoryResponder, publishConnectionStatus } from '../exporter/history';
import { storyPlan } from '../exporter/story';
import { resetDemoData } from '../shared/adapters/demo-reset';
import { readReadApiConfig } from '../shared/coverage/config';
import { standaloneHtml } from '../shared/coverage/export';
import { iso, runReadiness } from '../shared/coverage/views';

const ROOT = path.resolve(__dirname, '..');
const WORKERS = 2;
const LOG_DIR = path.join(process.env.BI_STACK_DIR ?? path.join(ROOT, '.stack'), 'run');
const logFiles: string[] = [];
const GROUP = 'bar-ingest';
const BARS = 240;
/** The continuity worker as the demo runs it: quick rounds, a short wait for the exporter's answers. */
const CONTINUITY_ENV = {
  BI_BACKFILL_KINDS: 'OFFLINE,UNKNOWN',
  BI_BACKFILL_TICK_MS: '250',
  BI_BACKFILL_RETRY_MS: '5000',
  BI_BACKFILL_SETTLE_MS: '3000',
  BI_BACKFILL_MAX_ATTEMPTS: '3',
};
const SETTLE_TIMEOUT_MS = 90_000;

/** Runs a project script; its structured log goes to a file, so the demo's own output stays readable. */
function run(script: string, args: string[], logName: string, env: Record<string, string> = {}): ChildProcess {
  const logFile = path.join(LOG_DIR, `${logName}.log`);
  // node with tsx as a loader, so a signal reaches the script itself, not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', fs.openSync(logFile, 'w')],
    env: { ...process.env, BI_LOG_LEVEL: process.env.BI_LOG_LEVEL ?? 'info', ...env },
  });
  logFiles.push(path.relative(ROOT, logFile));
  return child;
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

async function main(): Promise<void> {
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-demo'));
  const page = loadConfigOrExit(readReadApiConfig);
  const log = createLogger({ tool: 'demo' }, 'warn');
  const kafka = createKafka(c.kafka, log);
  const admin = kafka.admin();
  await admin.connect();
  const dlqBefore = await admin.fetchTopicOffsets(c.topics.barsDlq);
  const knex = createKnex(c.pgAdmin, { min: 0, max: 2 });
  // Each demo tells the same story on fresh time ranges: what an earlier one stored would fill its holes.
  await resetDemoData(knex);
  const startedAt = new Date((await knex.raw<{ rows: Array<{ now: Date }> }>('SELECT now() AS now')).rows[0]!.now);

  const say = (line: string): void => void process.stdout.write(line + '\n');
  say(
    `bar-ingest demo: ${WORKERS} ingest workers in consumer group '${GROUP}' and a continuity worker, reference exporter -> ${c.topics.bars}`,
  );
  say(`(the demo's series, runs and connection sessions from an earlier demo were removed first)`);
  const workers = Array.from({ length: WORKERS }, (_, i) => run('workers/ingest/main.ts', [], `demo-worker-${i + 1}`));
  const continuity = run('workers/continuity/main.ts', [], 'demo-continuity', CONTINUITY_ENV);

  // The exporter's side of the story: its connection events first (so each gap is classified
  // when it is found), then its history answering the backfill requests, then the bars.
  const now = Date.now();
  const story = storyPlan(BARS, 5, now);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const codec = new RegistryCodec(c.registryUrl);
  // Its own quiet Kafka client: a consumer group joining logs rebalances as errors, which are not.
  const responder = new HistoryResponder(
    createKafka(c.kafka, silentLogger),
    producer,
    codec,
    c.topics,
    'bar-ingest-demo-exporter',
    story.history,
    silentLogger,
  );
  await responder.start('reference-exporter');
  for (const event of story.statuses) await publishConnectionStatus(producer, codec, c.topics.connectionStatus, event);
  await waitUntil(
    async () =>
      Number(
        (
          await knex('connection_sessions')
            .whereIn(
              'from_utc',
              story.statuses.map((e) => new Date(e.ts_utc)),
            )
            .count<{ n: string }[]>('* as n')
        )[0]!.n,
      ) >= story.statuses.length,
    60_000,
    'the continuity worker to record the connection events',
  );
  say(
    `exporter connection events: Binance CONNECTED, DISCONNECTED at ${iso(story.statuses[1]!.ts_utc)}, CONNECTED at ${iso(story.statuses[2]!.ts_utc)}; Coinbase CONNECTED throughout`,
  );

  const exporter = run(
    'exporter/main.ts',
    ['--bars', String(BARS), '--runs', '5', '--bad', '--story', '--now', String(now)],
    'demo-exporter',
  );
  let exporterOut = '';
  exporter.stdout?.on('data', (d: Buffer) => (exporterOut += d.toString()));
  if ((await exited(exporter)) !== 0) throw new Error('the reference exporter failed');
  const published = JSON.parse(exporterOut.trim().split('\n').pop() ?? '{}') as Record<string, number>;
  say(
    `exporter published ${published.published} messages: ${published.series} series x up to ${BARS} bars (none while a venue is closed) x ${published.runs} runs (bars withheld for the story, two story runs on top), plus ${published.bad} bad ones`,
  );

  const started = Date.now();
  await waitUntil(
    async () => (await consumerLag(admin, c.topics.bars, GROUP)) === 0,
    120_000,
    'the workers to catch up',
  );
  say(`workers caught up (consumer lag 0) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // The backfill loop: requests go out, the exporter answers, the gaps settle.
  const settled = await waitForGaps(knex, startedAt, story.holes.length);
  await waitUntil(async () => (await consumerLag(admin, c.topics.bars, GROUP)) === 0, 60_000, 'history bars stored');
  say(
    settled
      ? `gaps settled in ${((Date.now() - started) / 1000).toFixed(1)} s; stopping the workers with SIGTERM`
      : `some gaps had not settled after ${SETTLE_TIMEOUT_MS / 1000} s (shown as they are); stopping the workers with SIGTERM`,
  );
  await responder.stop();
  await producer.disconnect();
  const all = [...workers, continuity];
  for (const w of all) w.kill('SIGTERM');
  const codes = await Promise.all(all.map(exited));
  if (codes.some((code) => code !== 0)) throw new Error(`a worker exited with ${codes.join(', ')}`);

  const dlqAfter = await admin.fetchTopicOffsets(c.topics.barsDlq);
  const reasons = await readDeadLetters(c, dlqBefore, dlqAfter);
  await admin.disconnect();

  const series = await knex.raw<{ rows: Array<Record<string, string>> }>(`
    SELECT s.venue, s.symbol, s.timeframe, s.provider, count(b.*)::int AS bars,
           to_char(s.start_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS first_bar,
           to_char(s.end_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS last_bar,
           (SELECT count(*) FROM run_subscriptions r WHERE r.series_id = s.id)::int AS runs,
           (SELECT count(*) FROM data_gaps g WHERE g.series_id = s.id AND g.status <> 'FILLED')::int AS gaps
      FROM market_series s LEFT JOIN market_bars b ON b.series_id = s.id
     GROUP BY s.id ORDER BY s.venue, s.symbol, s.timeframe`);
  const totals = await knex.raw<{ rows: Array<Record<string, string>> }>(`
    SELECT (SELECT count(*) FROM market_series) AS series, (SELECT count(*) FROM market_bars) AS bars,
           (SELECT count(*) FROM run_subscriptions) AS subscriptions, (SELECT count(*) FROM strategy_runs) AS runs,
           (SELECT count(*) FROM market_bars WHERE revision > 0) AS corrected`);
  const gaps = await storyGaps(knex, startedAt);
  const model = new ReadModel(knex);
  const runs = (await model.runs(1000, 0)).runs.filter((r) => r.id.startsWith('demo-run-'));
  const exportFile = path.join(LOG_DIR, 'demo-run-1.html');
  fs.writeFileSync(exportFile, standaloneHtml({ kind: 'run', data: await runReadiness(model, 'demo-run-1') }));
  await knex.destroy();

  say(
    '\nStored in PostgreSQL (one shared copy per series; runs = subscribed strategy runs; gaps = not filled, a closed market is none):',
  );
  say(
    table(series.rows, ['venue', 'symbol', 'timeframe', 'provider', 'bars', 'first_bar', 'last_bar', 'runs', 'gaps']),
  );
  const t = totals.rows[0]!;
  say(`\nTotals: ${t.series} series, ${t.bars} bars, ${t.subscriptions} run subscriptions, ${t.runs} strategy runs.`);
  say(
    `Messages in: ${published.published}; distinct bars this run: ${published.distinct_bars} (duplicates coalesced, stored once).`,
  );
  say(`\nGaps this run caused (${gaps.length}; the story expected ${story.holes.length}):`);
  say(table(gaps, ['venue', 'symbol', 'from', 'to', 'missing', 'kind', 'status', 'how it ended']));
  say('\nStrategy runs (verdict over the window each run was active):');
  say(
    table(
      runs.map((r) => ({
        run: r.id,
        series: r.series,
        'gaps (missing)': `${r.gaps.total} (${r.gaps.missing})`,
        verdict: r.verdict,
      })),
      ['run', 'series', 'gaps (missing)', 'verdict'],
    ),
  );
  say(`\nDead-lettered this run (${c.topics.barsDlq}): ${reasons.length}`);
  for (const r of reasons) say(`  ${r.code.padEnd(22)} ${r.reason}`);
  const host = page.host === '0.0.0.0' ? '127.0.0.1' : page.host;
  say(`\nSee it on the page: run \`make ui\`, then open http://${host}:${page.port}/#run=demo-run-1`);
  say(`One-file timeline of demo-run-1 (opens offline): ${path.relative(ROOT, exportFile)}`);
  say(`Logs (JSON lines): ${logFiles.join(', ')}`);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * Waits until the story's gaps are there and none is still waiting for the exporter: a gap that
 * is backfilled ends FILLED, NO_DATA or UNFILLABLE; a NO_ACTIVITY gap is not backfilled and stays
 * OPEN. Returns false (instead of failing) after SETTLE_TIMEOUT_MS, so the summary shows the rest.
 */
async function waitForGaps(knex: Knex, since: Date, expected: number): Promise<boolean> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const rows = await knex('data_gaps').where('detected_at', '>=', since).select('kind', 'status');
    const waiting = rows.filter(
      (g) => g.status === 'BACKFILL_REQUESTED' || (g.status === 'OPEN' && g.kind !== 'NO_ACTIVITY'),
    );
    if (rows.length >= expected && waiting.length === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
}

function howItEnded(g: { kind: string; status: string; attempts: number }): string {
  const requests = `${g.attempts} history request${g.attempts === 1 ? '' : 's'}`;
  switch (g.status) {
    case 'FILLED':
      return g.attempts > 0 ? `filled by the exporter's history (${requests})` : 'filled by late bars';
    case 'NO_DATA':
      return `the exporter's history had none either (${requests})`;
    case 'UNFILLABLE':
      return `no answer to ${requests}`;
    case 'BACKFILL_REQUESTED':
      return `still waiting for history (${requests})`;
    default:
      return g.kind === 'NO_ACTIVITY' ? 'still open: a quiet market is not backfilled' : 'still open';
  }
}

async function storyGaps(knex: Knex, since: Date): Promise<Array<Record<string, string | number>>> {
  const rows = await knex('data_gaps as g')
    .join('market_series as s', 's.id', 'g.series_id')
    .where('g.detected_at', '>=', since)
    .orderBy(['s.venue', 's.symbol', 'g.from_utc'])
    .select('s.venue', 's.symbol', 'g.from_utc', 'g.to_utc', 'g.missing_bars', 'g.kind', 'g.status', 'g.attempts');
  return rows.map((g) => ({
    venue: g.venue,
    symbol: g.symbol,
    from: iso(g.from_utc.getTime()),
    to: iso(g.to_utc.getTime()),
    missing: g.missing_bars,
    kind: g.kind,
    status: g.status,
    'how it ended': howItEnded(g),
  }));
}

async function readDeadLetters(
  c: ReturnType<typeof readConnections>,
  before: Array<{ partition: number; offset: string }>,
  after: Array<{ partition: number; high: string }>,
): Promise<Array<{ code: string; reason: string }>> {
  const expected = after.reduce(
    (n, a) => n + Number(a.high) - Number(before.find((b) => b.partition === a.partition)?.offset ?? 0),
    0,
  );
  if (expected === 0) return [];
  const kafka = createKafka(c.kafka, createLogger({}, 'error'));
  const consumer = kafka.consumer({ groupId: `demo-dlq-reader-${Date.now()}` });
  const out: Array<{ code: string; reason: string }> = [];
  await consumer.connect();
  await consumer.subscribe({ topic: c.topics.barsDlq, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const from = Number(before.find((b) => b.partition === partition)?.offset ?? 0);
        if (Number(message.offset) < from) return;
        out.push({
          code: String(message.headers?.['bi-error-code'] ?? ''),
          reason: String(message.headers?.['bi-error-reason'] ?? ''),
        });
        if (out.length >= expected) resolve();
      },
    });
  });
  await Promise.race([done, sleep(20_000)]);
  await consumer.disconnect();
  return out.sort((a, b) => a.code.localeCompare(b.code));
}

function table(rows: Array<Record<string, unknown>>, cols: string[]): string {
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]): string => '  ' + cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  return [
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => String(r[c] ?? '')))),
  ].join('\n');
}

// Exits once the summary is out: a Kafka client still closing its sockets must not hold the demo open.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
