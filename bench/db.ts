/**
 * PostgreSQL side of the bench: the bench's own database, the two baselines (COPY and the old
 * per-bar SELECT + INSERT/UPDATE) and the storage comparison with the legacy per-run layout.
 * Bench-only tables are prefixed `bench_` and live only in the bench database.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { Knex } from 'knex';
import { Client } from 'pg';
import type { PgSettings } from '../shared/runtime/connections';
import type { Plan } from './dataset';
import { distinctBars, RUNS } from './dataset';
import { ROOT } from './procs';
import { relationTotalBytes } from '../shared/adapters/bar-partitions';

/** Creates the database and its roles (scripts/stack.sh up postgres) and migrates it. */
export function setUpDatabase(env: Record<string, string>, database: string): void {
  // stack.sh creates `<name>` and `<name>_test`: ask for the base name so no `_test_test` appears.
  const base = database.replace(/_test$/, '');
  for (const [cmd, db] of [
    [['scripts/stack.sh', 'up', 'postgres'], base],
    [['scripts/with-env.sh', 'node_modules/.bin/tsx', 'scripts/prepare.ts', 'migrate'], database],
  ] as const) {
    const r = spawnSync(cmd[0], cmd.slice(1), {
      cwd: ROOT,
      env: { ...env, BI_PG_DATABASE: db },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed with ${r.status}`);
  }
}

const DATA_TABLES = ['run_subscriptions', 'strategy_runs', 'market_bars', 'market_series'];

/** Empties the bench database's data tables. Refuses any database not named bar_ingest_bench*. */
export async function truncateData(knex: Knex, database: string): Promise<void> {
  if (!database.startsWith('bar_ingest_bench')) throw new Error(`refusing to truncate ${database}`);
  await knex.raw(`TRUNCATE ${DATA_TABLES.join(', ')} RESTART IDENTITY CASCADE`);
}

export interface StoredCounts {
  rows: number;
  revised: number;
  series: number;
  /** sum(round(volume * 1e6)): matches only if every bar holds its final (corrected) values. */
  volumeSum: number;
  /** Bars still missing over the gaps not FILLED (remaining, not as detected: partly filled gaps count what is left). */
  gapBars: number;
  /** Gaps raised, then filled by bars that arrived later (a reordered stream). */
  filledGaps: number;
}

export function expectedVolumeSum(plan: Plan): number {
  let sum = 0;
  for (const { bar } of distinctBars(plan)) sum += Math.round(bar.volume * 1e6);
  return sum;
}

export async function storedCounts(knex: Knex): Promise<StoredCounts> {
  const r = await knex.raw<{
    rows: Array<{ rows: string; revised: string; series: string; vsum: string; gap_bars: string; filled: string }>;
  }>(
    `SELECT count(*) AS rows, count(*) FILTER (WHERE revision > 0) AS revised,
            coalesce(sum(round(volume * 1e6)::bigint), 0) AS vsum,
            (SELECT count(*) FROM market_series) AS series,
            (SELECT coalesce(sum(remaining_bars), 0) FROM data_gaps WHERE status <> 'FILLED') AS gap_bars,
            (SELECT count(*) FROM data_gaps WHERE status = 'FILLED') AS filled
       FROM market_bars`,
  );
  const row = r.rows[0]!;
  return {
    rows: Number(row.rows),
    revised: Number(row.revised),
    series: Number(row.series),
    volumeSum: Number(row.vsum),
    gapBars: Number(row.gap_bars),
    filledGaps: Number(row.filled),
  };
}

function csvRows(plan: Plan): string {
  const lines: string[] = [];
  const version = new Date().toISOString();
  for (const { seriesIndex, bar } of distinctBars(plan)) {
    lines.push(
      `${seriesIndex + 1},${new Date(bar.ts_utc).toISOString()},${bar.open},${bar.high},${bar.low},${bar.close},${bar.volume},LIVE,${version}`,
    );
  }
  return lines.join('\n') + '\n';
}

function psql(pg: PgSettings, sql: string, stdin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'psql',
      [
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        pg.host,
        '-p',
        String(pg.port),
        '-U',
        pg.user,
        '-d',
        pg.database,
        '-c',
        sql,
      ],
      {
        env: { ...process.env, PGPASSWORD: pg.password },
        stdio: ['pipe', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const started = performance.now();
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`psql failed (${code}): ${err}`));
    });
    child.stdin.end(stdin ?? '');
  });
}

export interface CopyResult {
  rows: number;
  ms: number;
  rowsPerSec: number;
}

/**
 * The physical limit: COPY of the distinct bars (final values) into an empty table with the same
 * columns and primary key, through psql's \copy (the CSV is built before timing; the time includes
 * psql's start-up and connection, a few ms).
 */
export async function copyBaseline(knex: Knex, pg: PgSettings, plan: Plan): Promise<CopyResult> {
  await knex.raw('DROP TABLE IF EXISTS bench_copy');
  await knex.raw(
    'CREATE TABLE bench_copy (LIKE market_bars INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)',
  );
  const csv = csvRows(plan);
  const ms = await psql(
    pg,
    `\\copy bench_copy (series_id, ts_utc, open, high, low, close, volume, source, version_ts) FROM STDIN WITH (FORMAT csv)`,
    csv,
  );
  const r = await knex.raw<{ rows: Array<{ n: string }> }>('SELECT count(*) AS n FROM bench_copy');
  const rows = Number(r.rows[0]!.n);
  await knex.raw('DROP TABLE bench_copy');
  return { rows, ms, rowsPerSec: rows / (ms / 1000) };
}

export interface OldWayResult {
  messages: number;
  statements: number;
  ms: number;
  messagesPerSec: number;
}

/**
 * The old way, on a sample of the same message stream (5 messages per distinct bar, in order):
 * for each message one SELECT by primary key, then an INSERT when absent or an UPDATE when the
 * values differ, each statement in its own implicit transaction. Generous to the old way: no
 * decoding, no series lookup, and identical re-sends cost only the SELECT.
 */
export async function oldWayBaseline(pg: PgSettings, plan: Plan, sampleMessages: number, maxMs: number) {
  const client = new Client({ ...pg, application_name: 'bar-ingest-bench' });
  await client.connect();
  try {
    await client.query('DROP TABLE IF EXISTS bench_oldway');
    await client.query(
      'CREATE TABLE bench_oldway (LIKE market_bars INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)',
    );
    let messages = 0;
    let statements = 0;
    const started = performance.now();
    outer: for (const { seriesIndex, original } of distinctBars(plan)) {
      for (let run = 0; run < RUNS; run++) {
        const id = seriesIndex + 1;
        const ts = new Date(original.ts_utc);
        const found = await client.query<{ open: number; high: number; low: number; close: number; volume: number }>(
          'SELECT open, high, low, close, volume FROM bench_oldway WHERE series_id = $1 AND ts_utc = $2',
          [id, ts],
        );
        statements++;
        const values = [original.open, original.high, original.low, original.close, original.volume];
        const row = found.rows[0];
        if (!row) {
          await client.query(
            `INSERT INTO bench_oldway (series_id, ts_utc, open, high, low, close, volume, source, version_ts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'LIVE', now())`,
            [id, ts, ...values],
          );
          statements++;
        } else if (row.open !== values[0] || row.close !== values[3] || row.volume !== values[4]) {
          await client.query(
            `UPDATE bench_oldway SET open = $3, high = $4, low = $5, close = $6, volume = $7,
                    revision = revision + 1, version_ts = now(), updated_at = now()
              WHERE series_id = $1 AND ts_utc = $2`,
            [id, ts, ...values],
          );
          statements++;
        }
        messages++;
        if (messages >= sampleMessages || performance.now() - started > maxMs) break outer;
      }
    }
    const ms = performance.now() - started;
    await client.query('DROP TABLE bench_oldway');
    return { messages, statements, ms, messagesPerSec: messages / (ms / 1000) } satisfies OldWayResult;
  } finally {
    await client.end();
  }
}

export interface StorageResult {
  storedBars: number;
  sharedBytes: number;
  sharedBytesPerBar: number;
  /** market_series + run_subscriptions + strategy_runs: what the shared layout adds per series and run. */
  sharedOverheadBytes: number;
  legacyRows: number;
  legacyBytes: number;
  legacyBytesPerDistinctBar: number;
  /** (market_bars + overhead) / legacy: 1/5 would be the ideal with 5 runs. */
  ratio: number;
}

async function totalSize(knex: Knex, table: string): Promise<number> {
  return relationTotalBytes(knex, table);
}

/**
 * Bytes per stored bar (heap + TOAST + indexes, after VACUUM) of market_bars, against the same
 * bars in the legacy layout: one row per (run, symbol, timeframe, ts) for each of the 5 runs.
 */
export async function storage(knex: Knex): Promise<StorageResult> {
  await knex.raw('VACUUM ANALYZE market_bars');
  const [{ n }] = (await knex.raw<{ rows: Array<{ n: string }> }>('SELECT count(*) AS n FROM market_bars')).rows as [
    { n: string },
  ];
  const storedBars = Number(n);
  const sharedBytes = await totalSize(knex, 'market_bars');
  let sharedOverheadBytes = 0;
  for (const t of ['market_series', 'run_subscriptions', 'strategy_runs'])
    sharedOverheadBytes += await totalSize(knex, t);

  await knex.raw('DROP TABLE IF EXISTS bench_legacy_run_bars');
  await knex.raw(`CREATE TABLE bench_legacy_run_bars (
      run_id text NOT NULL, symbol text NOT NULL, timeframe text NOT NULL, ts_utc timestamptz NOT NULL,
      open float8 NOT NULL, high float8 NOT NULL, low float8 NOT NULL, close float8 NOT NULL, volume float8 NOT NULL,
      PRIMARY KEY (run_id, symbol, timeframe, ts_utc))`);
  await knex.raw(
    `INSERT INTO bench_legacy_run_bars
     SELECT 'bench-run-' || r, s.symbol, s.timeframe, b.ts_utc, b.open, b.high, b.low, b.close, b.volume
       FROM generate_series(1, ?) r, market_bars b JOIN market_series s ON s.id = b.series_id
      ORDER BY 1, 2, 3, 4`,
    [RUNS],
  );
  await knex.raw('VACUUM ANALYZE bench_legacy_run_bars');
  const legacyBytes = await totalSize(knex, 'bench_legacy_run_bars');
  const legacyRows = Number(
    (
      (await knex.raw<{ rows: Array<{ n: string }> }>('SELECT count(*) AS n FROM bench_legacy_run_bars')).rows[0] as {
        n: string;
      }
    ).n,
  );
  await knex.raw('DROP TABLE bench_legacy_run_bars');
  return {
    storedBars,
    sharedBytes,
    sharedBytesPerBar: sharedBytes / storedBars,
    sharedOverheadBytes,
    legacyRows,
    legacyBytes,
    legacyBytesPerDistinctBar: legacyBytes / storedBars,
    ratio: (sharedBytes + sharedOverheadBytes) / legacyBytes,
  };
}

/** The first few stored bars whose values differ from the plan's final ones (for a failed check). */
export async function diffFinalValues(knex: Knex, plan: Plan, limit = 5): Promise<string[]> {
  const r = await knex.raw<{
    rows: Array<{ symbol: string; ts: string; volume: number; revision: number; version: string; updated: string }>;
  }>(
    `SELECT s.symbol, (extract(epoch FROM b.ts_utc) * 1000)::bigint AS ts, b.volume, b.revision,
            b.version_ts::text AS version, b.updated_at::text AS updated
       FROM market_bars b JOIN market_series s ON s.id = b.series_id`,
  );
  const got = new Map(r.rows.map((row) => [`${row.symbol}|${row.ts}`, row]));
  const out: string[] = [];
  for (const { bar, original, corrected } of distinctBars(plan)) {
    const symbol = bar.symbol.replace(/USDT$/, '/USDT');
    const row = got.get(`${symbol}|${bar.ts_utc}`);
    if (row && row.volume === bar.volume) continue;
    out.push(
      `${symbol} ${new Date(bar.ts_utc).toISOString()}: want volume ${bar.volume} (original ${original.volume}, corrected ${corrected}), ` +
        (row ? `got ${row.volume} revision ${row.revision} version ${row.version} updated ${row.updated}` : 'missing'),
    );
    if (out.length >= limit) break;
  }
  return out;
}
