/**
 * `make bench-read-api`: how fast the read API answers with 10,000 series and 100,000 gaps.
 * Generates them (with 1,000 strategy runs of 20 series each and the exporters' connection
 * sessions) in the suite's database, bar_ingest_test, which it empties first and afterwards, then
 * times each endpoint over HTTP through the real worker. A benchmark figure, not a test: it
 * prints latencies and writes bench/results/read-api-<timestamp>.json.
 *
 *   make bench-read-api [ARGS='--series 10000 --gaps-per-series 10 --requests 30']
 */
import fs from 'node:fs';
import path from 'node:path';
import { createKnex } from '../shared/adapters/postgres';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { silentLogger } from '../shared/runtime/log';
import { parseArgsOrExit } from '../shared/runtime/args';
import { loadConfigOrExit } from '../shared/runtime/process';
import { readReadApiConfig } from '../shared/coverage/config';
import { startReadApi } from '../workers/read-api/main';

const USAGE = `Usage: tsx bench/read-api.ts [--series N] [--gaps-per-series N] [--runs N] [--series-per-run N] [--requests N]

Needs BI_PG_DATABASE=bar_ingest_test (make bench-read-api sets it): the database is emptied.`;

const DATA_TABLES = [
  'data_gaps',
  'connection_sessions',
  'run_subscriptions',
  'strategy_runs',
  'market_bars',
  'market_series',
];

async function main(): Promise<void> {
  const args = parseArgsOrExit(
    process.argv.slice(2),
    { series: 10_000, gapsPerSeries: 10, runs: 1_000, seriesPerRun: 20, requests: 30 },
    USAGE,
  );
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-bench-read-api'));
  if (!c.pgAdmin.database.endsWith('_test')) {
    process.stderr.write(`refusing to empty ${c.pgAdmin.database}: run with BI_PG_DATABASE=bar_ingest_test\n`);
    process.exit(2);
  }
  const knex = createKnex(c.pgAdmin, { min: 0, max: 2 });
  const say = (line: string): void => void process.stdout.write(line + '\n');
  const t0 = Date.parse('2026-10-01T00:00:00Z');
  try {
    await knex.raw(`TRUNCATE ${DATA_TABLES.join(', ')} RESTART IDENTITY CASCADE`);
    const genStarted = Date.now();
    const venues = ['Binance', 'Coinbase', 'Kraken', 'Bybit', 'CME', 'NASDAQ'];
    // 30 days of 1-Min bars per series (never stored: the read API does not need them).
    await knex.raw(
      `INSERT INTO market_series (symbol, timeframe, provider, venue, start_utc, end_utc)
       SELECT 'SYM' || n || '/USDT', '1-Min', 'Quantower', (?::text[])[1 + n % 6],
              to_timestamp(?::bigint / 1000.0), to_timestamp(?::bigint / 1000.0) + interval '30 days' - interval '1 minute'
         FROM generate_series(1, ?) AS n`,
      [venues, t0, t0, args.series],
    );
    // Gaps spread over the 30 days, kinds and statuses in realistic proportions.
    await knex.raw(
      `INSERT INTO data_gaps (gap_id, series_id, from_utc, to_utc, missing_bars, kind, status, attempts, published_version)
       SELECT 'gap-' || s.id || '-' || k, s.id,
              to_timestamp(?::bigint / 1000.0) + (k * 3 * 24 * 60 + (s.id * 7 + k * 13) % 600) * interval '1 minute',
              to_timestamp(?::bigint / 1000.0) + (k * 3 * 24 * 60 + (s.id * 7 + k * 13) % 600 + 1 + (s.id + k) % 30) * interval '1 minute',
              1 + (s.id + k) % 30,
              (ARRAY['OFFLINE', 'NO_ACTIVITY', 'UNKNOWN'])[1 + (s.id + k) % 3],
              (ARRAY['FILLED', 'FILLED', 'FILLED', 'NO_DATA', 'OPEN', 'UNFILLABLE', 'BACKFILL_REQUESTED'])[1 + (s.id * 3 + k) % 7],
              (s.id + k) % 3, 1
         FROM market_series s, generate_series(0, ? - 1) AS k`,
      [t0, t0, args.gapsPerSeries],
    );
    // Each venue's exporter: a 2-hour outage every day.
    await knex.raw(
      `INSERT INTO connection_sessions (provider, venue, status, from_utc, to_utc)
       SELECT 'Quantower', v, CASE WHEN h % 2 = 0 THEN 'CONNECTED' ELSE 'DISCONNECTED' END,
              to_timestamp(?::bigint / 1000.0) + (d * 24 + CASE WHEN h % 2 = 0 THEN 0 ELSE 10 END) * interval '1 hour',
              to_timestamp(?::bigint / 1000.0) + (d * 24 + CASE WHEN h % 2 = 0 THEN 10 ELSE 12 END) * interval '1 hour'
         FROM unnest(?::text[]) AS v, generate_series(0, 29) AS d, generate_series(0, 1) AS h`,
      [t0, t0, venues],
    );
    await knex.raw(`INSERT INTO strategy_runs (id) SELECT 'run-' || n FROM generate_series(1, ?) AS n`, [args.runs]);
    // Run n uses series-per-run consecutive series, for a week of the month.
    await knex.raw(
      `INSERT INTO run_subscriptions (run_id, series_id, first_bar_utc, last_bar_utc)
       SELECT 'run-' || n, 1 + ((n - 1) * ? + j) % ?,
              to_timestamp(?::bigint / 1000.0) + (n % 20) * interval '1 day',
              to_timestamp(?::bigint / 1000.0) + (n % 20 + 7) * interval '1 day'
         FROM generate_series(1, ?) AS n, generate_series(0, ? - 1) AS j`,
      [args.seriesPerRun, args.series, t0, t0, args.runs, args.seriesPerRun],
    );
    await knex.raw('VACUUM ANALYZE market_series, data_gaps, connection_sessions, strategy_runs, run_subscriptions');
    const counts = (
      await knex.raw<{ rows: Array<Record<string, string>> }>(
        `SELECT (SELECT count(*) FROM market_series) AS series, (SELECT count(*) FROM data_gaps) AS gaps,
                (SELECT count(*) FROM strategy_runs) AS runs, (SELECT count(*) FROM run_subscriptions) AS subscriptions,
                (SELECT count(*) FROM connection_sessions) AS sessions`,
      )
    ).rows[0]!;
    say(
      `generated ${counts.series} series, ${counts.gaps} gaps, ${counts.runs} runs (${counts.subscriptions} subscriptions), ${counts.sessions} sessions in ${((Date.now() - genStarted) / 1000).toFixed(1)} s`,
    );

    const env = new EnvReader({ ...process.env, BI_READ_API_PORT: '0' });
    const api = await startReadApi(readReadApiConfig(env), silentLogger);
    const results: Array<{ name: string; url: string; bytes: number; p50: number; p95: number; max: number }> = [];
    try {
      const cases: Array<[string, string]> = [
        ['series list (first 1,000, the default page)', '/api/series'],
        ['series list (all 10,000)', `/api/series?limit=${args.series}`],
        ['series list, one venue', '/api/series?venue=Kraken&limit=100'],
        ['run readiness (20 series, a week)', '/api/runs/run-500/readiness'],
        ['runs list (first 100)', '/api/runs?limit=100'],
        ['series coverage (30 days)', '/api/series/4242/coverage'],
        ['gaps: OPEN OFFLINE, newest 100', '/api/gaps?kind=OFFLINE&status=OPEN&limit=100'],
        ['gaps in one day, newest 100', '/api/gaps?from=2026-10-10&to=2026-10-11&limit=100'],
      ];
      for (const [name, url] of cases) {
        const times: number[] = [];
        let bytes = 0;
        // Two warm-up requests (connection pool, plan cache), then the measured ones.
        for (let i = 0; i < args.requests + 2; i++) {
          const started = process.hrtime.bigint();
          const res = await fetch(new URL(url, api.url));
          const body = await res.arrayBuffer();
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          if (!res.ok) throw new Error(`${url} answered ${res.status}: ${Buffer.from(body).toString()}`);
          bytes = body.byteLength;
          if (i >= 2) times.push(ms);
        }
        times.sort((a, b) => a - b);
        const q = (p: number): number =>
          Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))]! * 10) / 10;
        results.push({ name, url, bytes, p50: q(0.5), p95: q(0.95), max: q(1) });
      }
    } finally {
      await api.stop();
    }
    say(`\n${args.requests} requests each, after 2 warm-up requests, sequential, over HTTP on loopback:`);
    say(
      `  ${'request'.padEnd(46)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'bytes'.padStart(10)}`,
    );
    for (const r of results) {
      say(
        `  ${r.name.padEnd(46)} ${String(r.p50).padStart(8)} ${String(r.p95).padStart(8)} ${String(r.max).padStart(8)} ${String(r.bytes).padStart(10)}`,
      );
    }
    const dir = path.resolve(__dirname, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `read-api-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), args, counts, results }, null, 2));
    say(`\nraw results: ${path.relative(process.cwd(), file)}`);
  } finally {
    await knex.raw(`TRUNCATE ${DATA_TABLES.join(', ')} RESTART IDENTITY CASCADE`).catch(() => undefined);
    await knex.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-read-api failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
