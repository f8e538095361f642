import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import { freePort } from '../../bench/procs';
import { adoptDefaultRows, defaultPartitionRows, listBarPartitions } from '../../shared/adapters/bar-partitions';
import { writeFlush } from '../../shared/adapters/bar-store';
import { createKnex, migrateLatest, MIGRATIONS_DIR } from '../../shared/adapters/postgres';
import { baseConnections, countRows, db, TestContext, truncateData, waitFor } from '../support/stack';

/**
 * market_bars partitioned by bar time (migrations/20261127000020_partitioned_market_bars.ts): the
 * conversion of a table holding data, the upsert on the partitioned table, the partitions the
 * worker role creates through the SECURITY DEFINER function, the DEFAULT partition's metric, and
 * the opt-in retention command.
 */
const MIGRATION = '20261127000020_partitioned_market_bars.ts';
const ROOT = path.resolve(__dirname, '../..');
const HOUR = 3_600_000;

/** Every row, in key order, as one digest; plus the count. */
async function fingerprint(): Promise<{ n: number; digest: string }> {
  const { rows } = await db().raw<{ rows: Array<{ n: number; digest: string }> }>(
    `SELECT count(*)::int AS n,
            md5(string_agg(concat_ws('|', series_id, ts_utc, open, high, low, close, volume, source, revision,
                                     version_ts, updated_at), ',' ORDER BY series_id, ts_utc)) AS digest
       FROM market_bars`,
  );
  return rows[0]!;
}

async function relkind(): Promise<string> {
  const { rows } = await db().raw<{ rows: Array<{ k: string }> }>(
    `SELECT relkind AS k FROM pg_class WHERE oid = 'market_bars'::regclass`,
  );
  return rows[0]!.k;
}

/** The partition holding each given bar. */
async function partitionOf(seriesId: number, tsMs: number): Promise<string> {
  const { rows } = await db().raw<{ rows: Array<{ p: string }> }>(
    `SELECT tableoid::regclass::text AS p FROM market_bars WHERE series_id = ? AND ts_utc = to_timestamp(?::float8 / 1000)`,
    [seriesId, tsMs],
  );
  return rows[0]!.p;
}

async function seriesIds(n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const [row] = await db()('market_series')
      .insert({ symbol: `PART${i}/USDT`, timeframe: '1-Hour', provider: 'Quantower', venue: 'Binance' })
      .returning<Array<{ id: string }>>('id');
    ids.push(Number(row!.id));
  }
  return ids;
}

function partitionsCommand(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('scripts/with-env.sh', ['node_modules/.bin/tsx', 'scripts/partitions.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, BI_PG_DATABASE: baseConnections.pgAdmin.database },
    encoding: 'utf8',
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject),
  );
}

describe('market_bars partitioned by bar time', () => {
  beforeEach(truncateData);
  // Whatever a test did to the schema, the suite goes on with every migration applied.
  after(async () => {
    await migrateLatest(db());
    await truncateData();
  });

  it('the migration converts a populated table: same rows and values, a partition per month, the upsert lands in the right one', async () => {
    await db().migrate.down({ directory: MIGRATIONS_DIR, loadExtensions: ['.ts', '.js'], name: MIGRATION });
    expect(await relkind()).to.equal('r');
    const [a, b, c] = (await seriesIds(3)) as [number, number, number];
    // Hourly bars from mid-October 2025 to early January 2026, a few from 2019, and the last day.
    const start = Date.parse('2025-10-15T00:00:00Z');
    const recent = Math.floor(Date.now() / HOUR) * HOUR - 24 * HOUR;
    await db().raw(
      `INSERT INTO market_bars (series_id, ts_utc, open, high, low, close, volume, source, revision, version_ts, updated_at)
       SELECT s.id, s.t0 + i * interval '1 hour', 100 + i * 0.25, 101 + i * 0.25, 99 + i * 0.25, 100.5 + i * 0.125,
              i * 1.5, CASE WHEN i % 7 = 0 THEN 'HISTORY' ELSE 'LIVE' END, i % 3,
              s.t0 + i * interval '1 hour' + interval '61 minutes', s.t0 + i * interval '1 hour' + interval '62 minutes'
         FROM (VALUES (?::bigint, to_timestamp(?::float8 / 1000), 2000), (?, timestamptz '2019-06-01', 5),
                      (?, to_timestamp(?::float8 / 1000), 24)) AS s(id, t0, n),
              LATERAL generate_series(0, s.n - 1) AS i`,
      [a, start, b, c, recent],
    );
    const before = await fingerprint();
    expect(before.n).to.equal(2029);

    await migrateLatest(db());

    expect(await relkind()).to.equal('p');
    expect(await fingerprint()).to.deep.equal(before);
    expect(await defaultPartitionRows(db())).to.equal(0);
    const partitions = await listBarPartitions(db());
    const names = partitions.map((p) => p.name);
    expect(names).to.include.members([
      'market_bars_p20190601',
      'market_bars_p20251001',
      'market_bars_p20251101',
      'market_bars_p20251201',
      'market_bars_p20260101',
      'market_bars_default',
    ]);
    // Partitions around now exist before any worker starts.
    const ahead = Date.now() + 60 * 86_400_000;
    expect(partitions.some((p) => !p.isDefault && p.fromMs! <= ahead && ahead < p.toMs!)).to.equal(true);
    // Every row sits in the partition whose range holds its time.
    const { rows: misplaced } = await db().raw<{ rows: Array<{ n: number }> }>(
      `SELECT count(*)::int AS n FROM market_bars b JOIN market_bar_partitions() p ON p.partition_name = b.tableoid::regclass::text
        WHERE p.is_default OR NOT (b.ts_utc >= p.from_utc AND b.ts_utc < p.to_utc)`,
    );
    expect(misplaced[0]!.n).to.equal(0);
    // Same primary key (with the partition key), foreign key and worker rights as before.
    const { rows: keys } = await db().raw<{ rows: Array<{ name: string; def: string }> }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'market_bars'::regclass ORDER BY 1`,
    );
    expect(keys).to.deep.equal([
      { name: 'market_bars_pkey', def: 'PRIMARY KEY (series_id, ts_utc)' },
      { name: 'market_bars_series_id_foreign', def: 'FOREIGN KEY (series_id) REFERENCES market_series(id)' },
    ]);

    // The ingest upsert, as the worker role: a correction of an October bar and a new December bar.
    const worker = createKnex(baseConnections.pgWorker, { min: 0, max: 1 });
    try {
      const oct = start + 10 * HOUR;
      const dec = Date.parse('2025-12-24T12:30:00Z');
      const bar = (tsMs: number, close: number) => ({
        seriesId: a,
        tsMs,
        open: 1,
        high: 3,
        low: 0.5,
        close,
        volume: 7,
        source: 'LIVE',
        versionMs: Date.now(),
      });
      const result = await writeFlush(
        worker,
        [bar(oct, 2.5), bar(dec, 2)],
        [{ runId: 'partition-test', seriesId: a, firstMs: oct, lastMs: dec }],
      );
      expect(result).to.deep.equal({ inserted: 1, corrected: 1 });
      expect(await partitionOf(a, oct)).to.equal('market_bars_p20251001');
      expect(await partitionOf(a, dec)).to.equal('market_bars_p20251201');
      const corrected = await db()('market_bars')
        .where({ series_id: a, ts_utc: new Date(oct) })
        .first('close', 'revision');
      expect(corrected).to.deep.equal({ close: 2.5, revision: (10 % 3) + 1 });
      expect(await countRows('market_bars')).to.equal(2030);
      // An identical re-send writes nothing (ON CONFLICT ... WHERE on the partitioned table).
      expect(await writeFlush(worker, [bar(dec, 2)], [])).to.deep.equal({ inserted: 0, corrected: 0 });
    } finally {
      await worker.destroy();
    }
  });

  it('a worker creates partitions ahead without DDL rights; bars outside them go to DEFAULT, which /metrics reports until adopted', async () => {
    const ctx = await new TestContext().setup();
    try {
      // The worker role may not create a table itself, only call the function.
      const role = baseConnections.pgWorker.user;
      const { rows: rights } = await db().raw<{ rows: Array<Record<string, boolean>> }>(
        `SELECT has_schema_privilege(?, 'public', 'CREATE') AS create_table,
                has_function_privilege(?, 'ensure_market_bar_partitions(timestamptz, timestamptz)', 'EXECUTE') AS ensure,
                has_table_privilege(?, 'market_bars_default', 'SELECT') AS read_default`,
        [role, role, role],
      );
      expect(rights[0]).to.deep.equal({ create_table: false, ensure: true, read_default: false });

      // Only the partitions ahead of now are missing: the worker's maintenance step creates them at start.
      const farAhead = Date.now() + 80 * 86_400_000;
      const covering = (all: Awaited<ReturnType<typeof listBarPartitions>>, t: number) =>
        all.find((p) => !p.isDefault && p.fromMs! <= t && t < p.toMs!);
      const before = covering(await listBarPartitions(db()), farAhead);
      if (before) {
        await db().raw('ALTER TABLE market_bars DETACH PARTITION ??', [before.name]);
        await db().raw('DROP TABLE ??', [before.name]);
      }
      const port = await freePort();
      await ctx.startWorker({ BI_HEALTH_PORT: String(port), BI_BAR_PARTITIONS_AHEAD_DAYS: '90' });
      expect(covering(await listBarPartitions(db()), farAhead), 'a partition 80 days ahead').to.not.equal(undefined);
      expect(await scrape(port)).to.match(/^bi_market_bars_default_partition_rows\{[^}]*\} 0$/m);

      // A bar no partition covers (here written by the admin role: the workers refuse bars this far ahead).
      const [id] = (await seriesIds(1)) as [number];
      await db().raw(
        `INSERT INTO market_bars (series_id, ts_utc, open, high, low, close, volume, version_ts)
         VALUES (?, '2041-03-04T05:00:00Z', 1, 1, 1, 1, 1, now())`,
        [id],
      );
      expect(await partitionOf(id, Date.parse('2041-03-04T05:00:00Z'))).to.equal('market_bars_default');
      await waitFor(
        async () => /^bi_market_bars_default_partition_rows\{[^}]*\} 1$/m.test(await scrape(port)),
        10_000,
        'metric 1',
      );

      expect(await adoptDefaultRows(db())).to.equal(1);
      expect(await partitionOf(id, Date.parse('2041-03-04T05:00:00Z'))).to.equal('market_bars_p20410301');
      expect(await scrape(port)).to.match(/^bi_market_bars_default_partition_rows\{[^}]*\} 0$/m);
      await db().raw('ALTER TABLE market_bars DETACH PARTITION market_bars_p20410301');
      await db().raw('DROP TABLE market_bars_p20410301');
    } finally {
      await ctx.close();
    }
  });

  it('retention is a dry run unless --apply, then detaches and drops only partitions older than the age', async () => {
    const [id] = (await seriesIds(1)) as [number];
    expect(partitionsCommand('ensure', '--from', '2018-01-01', '--to', '2018-03-01').status).to.equal(0);
    const recent = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
    await db().raw(
      `INSERT INTO market_bars (series_id, ts_utc, open, high, low, close, volume, version_ts)
       SELECT ?, t, 1, 1, 1, 1, 1, now()
         FROM unnest(ARRAY[timestamptz '2018-01-10', '2018-02-10', '2018-02-11', to_timestamp(?::float8 / 1000)]) AS t`,
      [id, recent],
    );
    await db()('market_series')
      .where({ id })
      .update({ start_utc: new Date('2018-01-10'), end_utc: new Date(recent) });

    const dry = partitionsCommand('retention', '--older-than', '24 months');
    expect(dry.status, dry.out).to.equal(0);
    expect(dry.out).to.match(/dry run: would drop \d+ partition/);
    expect(dry.out).to.contain('market_bars_p20180101').and.to.contain('market_bars_p20180201');
    expect(await countRows('market_bars')).to.equal(4);
    expect((await listBarPartitions(db())).map((p) => p.name)).to.include('market_bars_p20180101');

    const real = partitionsCommand('retention', '--older-than', '24 months', '--apply');
    expect(real.status, real.out).to.equal(0);
    expect(real.out).to.contain('dropped market_bars_p20180101').and.to.contain('dropped market_bars_p20180201');
    const left = await listBarPartitions(db());
    const cutoff = new Date();
    cutoff.setUTCMonth(cutoff.getUTCMonth() - 24);
    expect(left.filter((p) => !p.isDefault && p.toMs! <= cutoff.getTime())).to.deep.equal([]);
    expect(left.some((p) => p.isDefault)).to.equal(true);
    expect(await countRows('market_bars')).to.equal(1);
    const series = await db()('market_series').where({ id }).first('start_utc', 'end_utc');
    expect(series.start_utc.getTime()).to.equal(recent);
    expect(series.end_utc.getTime()).to.equal(recent);

    expect(partitionsCommand('retention').status).to.equal(2);
  });
});
