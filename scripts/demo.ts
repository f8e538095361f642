/**
 * `make demo`: the main job end to end on the local stack. Starts two ingest workers (one consumer
 * group), runs the reference exporter (several strategy runs sending the same bars, one ticker
 * spelled differently at several venues, plus one bad message of each kind), waits until every
 * message is committed, stops the workers gracefully and prints what PostgreSQL now holds.
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { consumerLag, createKafka } from '../shared/adapters/kafka';
import { createKnex } from '../shared/adapters/postgres';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { createLogger } from '../shared/runtime/log';
import { loadConfigOrExit } from '../shared/runtime/process';

const ROOT = path.resolve(__dirname, '..');
const WORKERS = 2;
const LOG_DIR = path.join(process.env.BI_STACK_DIR ?? path.join(ROOT, '.stack'), 'run');
const logFiles: string[] = [];
const GROUP = 'bar-ingest';

/** Runs a project script; its structured log goes to a file, so the demo's own output stays readable. */
function run(script: string, args: string[], logName: string): ChildProcess {
  const logFile = path.join(LOG_DIR, `${logName}.log`);
  // node with tsx as a loader, so a signal reaches the script itself, not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', fs.openSync(logFile, 'w')],
    env: { ...process.env, BI_LOG_LEVEL: process.env.BI_LOG_LEVEL ?? 'info' },
  });
  logFiles.push(path.relative(ROOT, logFile));
  return child;
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

async function main(): Promise<void> {
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-demo'));
  const log = createLogger({ tool: 'demo' }, 'warn');
  const admin = createKafka(c.kafka, log).admin();
  await admin.connect();
  const dlqBefore = await admin.fetchTopicOffsets(c.topics.barsDlq);

  const say = (line: string): void => void process.stdout.write(line + '\n');
  say(
    `bar-ingest demo: ${WORKERS} ingest workers in consumer group '${GROUP}', reference exporter -> ${c.topics.bars}`,
  );
  const workers = Array.from({ length: WORKERS }, (_, i) => run('workers/ingest/main.ts', [], `demo-worker-${i + 1}`));

  const exporter = run('exporter/main.ts', ['--bars', '240', '--runs', '5', '--bad'], 'demo-exporter');
  let exporterOut = '';
  exporter.stdout?.on('data', (d: Buffer) => (exporterOut += d.toString()));
  if ((await exited(exporter)) !== 0) throw new Error('the reference exporter failed');
  const published = JSON.parse(exporterOut.trim().split('\n').pop() ?? '{}') as Record<string, number>;
  say(
    `exporter published ${published.published} messages: ${published.series} series x up to 240 bars (none while a venue is closed) x ${published.runs} runs, plus ${published.bad} bad ones`,
  );

  const started = Date.now();
  for (;;) {
    const lag = await consumerLag(admin, c.topics.bars, GROUP);
    if (lag === 0) break;
    if (Date.now() - started > 120_000) throw new Error(`workers did not catch up within 120 s (lag ${lag})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  say(
    `workers caught up (consumer lag 0) in ${((Date.now() - started) / 1000).toFixed(1)} s; stopping them with SIGTERM`,
  );
  for (const w of workers) w.kill('SIGTERM');
  const codes = await Promise.all(workers.map(exited));
  if (codes.some((code) => code !== 0)) throw new Error(`a worker exited with ${codes.join(', ')}`);

  const dlqAfter = await admin.fetchTopicOffsets(c.topics.barsDlq);
  const reasons = await readDeadLetters(c, dlqBefore, dlqAfter);
  await admin.disconnect();

  const knex = createKnex(c.pgAdmin, { min: 0, max: 1 });
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
  say(`\nDead-lettered this run (${c.topics.barsDlq}): ${reasons.length}`);
  for (const r of reasons) say(`  ${r.code.padEnd(22)} ${r.reason}`);
  say(`\nLogs (JSON lines): ${logFiles.join(', ')}`);
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
  await Promise.race([done, new Promise((r) => setTimeout(r, 20_000))]);
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

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
