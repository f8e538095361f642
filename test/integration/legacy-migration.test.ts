import { expect } from 'chai';
import knexFactory, { Knex } from 'knex';
import { parseMappingEntries, storageSaved } from '../../shared/domain/legacy';
import { LEGACY_RUNS_TABLE, LegacyStore, prepareSchema } from '../../shared/adapters/legacy-store';
import { LegacyMigrationError, LegacyMigrator } from '../../workers/legacy-migration/core';
import { baseConnections, db, truncateData, countRows } from '../support/stack';

const LEGACY_TABLE = 'legacy_run_bars';
const BARS = 10_000;
const START = Date.UTC(2024, 0, 1);

/** Empties everything this file writes, so the suite's other files never see legacy rows. */
async function cleanLegacy(): Promise<void> {
  await truncateData();
  await db().raw(`DROP TABLE IF EXISTS ${LEGACY_TABLE}`);
  await db().raw(
    'TRUNCATE run_series, legacy_migration_progress, legacy_bar_conflicts, legacy_migration RESTART IDENTITY',
  );
}

/**
 * The old per-run layout in the test database: 5 runs holding their own copy of the same 10,000
 * BTC/USDT minute bars (each run spelling symbol and timeframe its own way), a few values the runs
 * disagree on, and one run on a symbol nobody mapped.
 */
async function buildLegacyStore(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE ${LEGACY_TABLE} (
    run_id text NOT NULL, symbol text NOT NULL, timeframe text NOT NULL, ts_utc timestamptz NOT NULL,
    open float8 NOT NULL, high float8 NOT NULL, low float8 NOT NULL, close float8 NOT NULL, volume float8 NOT NULL,
    PRIMARY KEY (run_id, symbol, timeframe, ts_utc))`);
  const runs: Array<[string, string, string]> = [
    ['run-1', 'BTCUSDT', '1m'],
    ['run-2', 'BTC-USDT', 'M1'],
    ['run-3', 'btc_usdt', '1-Min'],
    ['run-4', 'BTC/USDT', '60s'],
    ['run-5', 'BTCUSDT', '1min'],
    ['run-6', 'ETHUSDT', '1m'],
  ];
  await knex('strategy_runs').insert(runs.map(([id]) => ({ id })));
  await knex('run_series').insert(runs.map(([run_id, symbol, timeframe]) => ({ run_id, symbol, timeframe })));
  for (const [run, symbol, timeframe] of runs) {
    const n = run === 'run-6' ? 20 : BARS;
    await knex.raw(
      `INSERT INTO ${LEGACY_TABLE}
       SELECT ?, ?, ?, to_timestamp(? / 1000.0) + i * interval '1 minute', 100 + i % 50, 102 + i % 50, 99 + i % 50, 101 + i % 50, 10
       FROM generate_series(0, ? - 1) AS i`,
      [run, symbol, timeframe, START, n],
    );
  }
  const setClose = (runIds: string[], i: number, close: number) =>
    knex.raw(`UPDATE ${LEGACY_TABLE} SET close = ? WHERE run_id = ANY(?) AND ts_utc = to_timestamp(? / 1000.0)`, [
      close,
      runIds,
      START + i * 60_000,
    ]);
  // One run disagrees: the majority (4 runs) wins.
  for (const i of [10, 20, 30]) await setClose(['run-3'], i, 555);
  // Two runs agree on another value: still 3 against 2.
  await setClose(['run-4', 'run-5'], 40, 777);
  // Three variants, 2 - 2 - 1: the tie goes to the pair holding the run registered last (run-4).
  await setClose(['run-3', 'run-4'], 50, 888);
  await setClose(['run-5'], 50, 999);
}

const MAPPING = parseMappingEntries([
  'symbol:BTCUSDT=Quantower/Binance',
  'run:run-2=Quantower/Binance',
  'run:run-3=quantower/binance',
  'run:run-4=Quantower/Binance',
]).mapping;

function migrator(options: Partial<ConstructorParameters<typeof LegacyMigrator>[1]> = {}): LegacyMigrator {
  return new LegacyMigrator(new LegacyStore(db(), LEGACY_TABLE), { mapping: MAPPING, chunkBars: 1_000, ...options });
}

/** The migrated state, by identity rather than generated ids, to compare two runs. */
async function snapshot(): Promise<string> {
  const { rows } = await db().raw<{ rows: Array<{ digest: string }> }>(`
    SELECT md5(
      (SELECT string_agg(concat_ws(',', s.symbol, s.timeframe, s.provider, s.venue, b.ts_utc, b.open, b.high, b.low, b.close, b.volume, b.revision), ';' ORDER BY s.symbol, b.ts_utc)
         FROM market_bars b JOIN market_series s ON s.id = b.series_id) || '|' ||
      (SELECT string_agg(concat_ws(',', r.run_id, s.symbol, r.first_bar_utc, r.last_bar_utc), ';' ORDER BY r.run_id, s.symbol)
         FROM run_subscriptions r JOIN market_series s ON s.id = r.series_id) || '|' ||
      (SELECT coalesce(string_agg(concat_ws(',', c.ts_utc, c.chosen::text, c.variants::text), ';' ORDER BY c.ts_utc), '')
         FROM legacy_bar_conflicts c) || '|' ||
      (SELECT string_agg(concat_ws(',', symbol, timeframe, provider, venue, start_utc, end_utc), ';' ORDER BY symbol) FROM market_series) || '|' ||
      (SELECT string_agg(concat_ws(',', run_id, symbol, timeframe, provider, venue, series_id IS NOT NULL, unmapped_reason), ';' ORDER BY run_id) FROM run_series)
    ) AS digest`);
  return rows[0]!.digest;
}

describe('legacy per-run store migration', () => {
  beforeEach(cleanLegacy);
  after(cleanLegacy);

  it('migrates 5 runs x the same 10,000 bars into 10,000 bars and 5 subscriptions, reporting conflicts and unmapped rows', async () => {
    await buildLegacyStore(db());
    const progress: number[] = [];
    const outcome = await migrator({ onProgress: ({ done }) => progress.push(done) }).migrate();
    expect(outcome.completed).to.equal(true);
    expect(outcome.mapped).to.equal(5);
    expect(outcome.unmapped).to.equal(1);
    expect(progress.at(-1)).to.equal(BARS);

    const series = await db()('market_series').select(
      'id',
      'symbol',
      'timeframe',
      'provider',
      'venue',
      'start_utc',
      'end_utc',
    );
    expect(series).to.have.length(1);
    expect(series[0]).to.include({ symbol: 'BTC/USDT', timeframe: '1-Min', provider: 'Quantower', venue: 'Binance' });
    expect((series[0].start_utc as Date).getTime()).to.equal(START);
    expect((series[0].end_utc as Date).getTime()).to.equal(START + (BARS - 1) * 60_000);
    expect(await countRows('market_bars')).to.equal(BARS);
    const subs = await db()('run_subscriptions').orderBy('run_id').pluck('run_id');
    expect(subs).to.deep.equal(['run-1', 'run-2', 'run-3', 'run-4', 'run-5']);

    // The documented rule: majority, then the run registered last.
    const close = async (i: number): Promise<number> =>
      (
        await db()('market_bars')
          .where({ ts_utc: new Date(START + i * 60_000) })
          .first<{ close: number }>('close')
      ).close;
    expect(await close(10)).to.equal(101 + 10);
    expect(await close(40)).to.equal(101 + 40);
    expect(await close(50)).to.equal(888);
    const conflicts = await db()('legacy_bar_conflicts').orderBy('ts_utc').select('ts_utc', 'chosen', 'variants');
    expect(conflicts.map((c) => (c.ts_utc as Date).getTime())).to.deep.equal(
      [10, 20, 30, 40, 50].map((i) => START + i * 60_000),
    );
    const tie = conflicts[4]!;
    expect(tie.chosen).to.include({ close: 888 });
    expect(tie.variants).to.have.length(3);
    expect(tie.chosen.runs).to.deep.equal(['run-3', 'run-4']);

    // The unmapped run is reported with its reason and left in place, never guessed.
    const orphan = await db()('run_series').where({ run_id: 'run-6' }).first();
    expect(orphan.series_id).to.equal(null);
    expect(orphan.unmapped_reason).to.include('no mapping').and.to.include('ETHUSDT');

    const report = outcome.report!;
    expect(report).to.include({
      legacyBars: 5 * BARS + 20,
      distinctBars: BARS,
      migratedBars: BARS,
      conflicts: 5,
      unmappedRunSeries: 1,
      unmappedBars: 20,
    });
    expect(report.sizesBefore[LEGACY_TABLE]).to.be.greaterThan(0);
    expect(report.sizesAfter.market_bars).to.be.greaterThan(0);
    expect(storageSaved(report, LEGACY_TABLE)).to.be.greaterThan(0);

    // Not verified while a row is unmapped: the legacy table stays.
    let refused: unknown;
    await migrator()
      .dropLegacy()
      .catch((err: unknown) => (refused = err));
    expect(refused).to.be.instanceOf(LegacyMigrationError);
    expect((refused as Error).message).to.include('unmapped run_series rows 1');
    expect(await db().schema.hasTable(LEGACY_TABLE)).to.equal(true);

    // Map the last run, run again: only the new series is added; then the explicit drop works.
    const more = parseMappingEntries(['run:run-6=Quantower/Binance']).mapping;
    const second = await migrator({
      mapping: { byRun: new Map([...MAPPING.byRun, ...more.byRun]), bySymbol: MAPPING.bySymbol },
    }).migrate();
    expect(second.report).to.include({
      distinctBars: BARS + 20,
      migratedBars: BARS + 20,
      unmappedRunSeries: 0,
      conflicts: 5,
    });
    const dropped = await migrator().dropLegacy();
    expect(dropped.migratedBars).to.equal(BARS + 20);
    expect(await db().schema.hasTable(LEGACY_TABLE)).to.equal(false);
    expect((await db()('legacy_migration').first()).phase).to.equal('LEGACY_DROPPED');
  });

  it('interrupted halfway and resumed, ends in the same state as an uninterrupted run', async () => {
    await buildLegacyStore(db());
    expect((await migrator().migrate()).completed).to.equal(true);
    const straight = await snapshot();

    await cleanLegacy();
    await buildLegacyStore(db());
    const first = await migrator({ maxChunks: 5 }).migrate();
    expect(first.completed).to.equal(false);
    expect(await countRows('market_bars')).to.equal(5_000);
    expect(await db()('run_subscriptions').count<Array<{ count: string }>>('* as count')).to.deep.equal([
      { count: '0' },
    ]);

    // An abort signal (Ctrl-C) stops between chunks too.
    const controller = new AbortController();
    const second = await migrator({
      signal: controller.signal,
      onProgress: ({ done }) => {
        if (done >= 7_000) controller.abort();
      },
    }).migrate();
    expect(second.completed).to.equal(false);

    const done: number[] = [];
    const last = await migrator({ onProgress: (p) => done.push(p.done) }).migrate();
    expect(last.completed).to.equal(true);
    expect(done[0]).to.equal(8_000);
    expect(last.report).to.include({ distinctBars: BARS, migratedBars: BARS, conflicts: 5 });
    expect(await snapshot()).to.equal(straight);
  });

  it('on a new install there is no legacy table: run_series exists empty and migrate says there is nothing to do', async () => {
    expect(await db().schema.hasColumn('run_series', 'series_id')).to.equal(true);
    let error: unknown;
    await migrator()
      .migrate()
      .catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(LegacyMigrationError);
    expect((error as Error).message).to.include('nothing to migrate');
  });

  it('adopts a legacy database that never ran a migration and converts it in place', async () => {
    // A schema of its own stands in for such a database: same SQL, nothing shared with other tests.
    const schema = 'legacy_adopt_test';
    await db().raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db().raw(`CREATE SCHEMA ${schema}`);
    const legacyDb = knexFactory({
      client: 'pg',
      connection: baseConnections.pgAdmin,
      searchPath: [schema],
      pool: { min: 0, max: 2 },
    });
    try {
      // The old layout as it was: integer run ids, no surrogate key on run_series, runs with extra columns.
      await legacyDb.raw(`CREATE TABLE strategy_runs (id int PRIMARY KEY, strategy text NOT NULL)`);
      await legacyDb.raw(`CREATE TABLE run_series (run_id int NOT NULL REFERENCES strategy_runs, symbol text NOT NULL,
        timeframe text NOT NULL, PRIMARY KEY (run_id, symbol, timeframe))`);
      await legacyDb.raw(`CREATE TABLE run_bars (run_id int NOT NULL, symbol text NOT NULL, timeframe text NOT NULL,
        ts_utc timestamptz NOT NULL, open float8, high float8, low float8, close float8, volume float8,
        PRIMARY KEY (run_id, symbol, timeframe, ts_utc))`);
      await legacyDb.raw(`INSERT INTO strategy_runs VALUES (1, 'ema'), (2, 'rsi')`);
      await legacyDb.raw(`INSERT INTO run_series VALUES (1, 'XBTUSD', 'H1'), (2, 'XXBTZUSD', '1h')`);
      await legacyDb.raw(`INSERT INTO run_bars SELECT r, CASE r WHEN 1 THEN 'XBTUSD' ELSE 'XXBTZUSD' END,
        CASE r WHEN 1 THEN 'H1' ELSE '1h' END, timestamptz '2024-01-01' + i * interval '1 hour', 10, 11, 9, 10, 1
        FROM generate_series(1, 2) r, generate_series(0, 99) i`);

      const steps = await prepareSchema(legacyDb);
      expect(steps[0]).to.include(LEGACY_RUNS_TABLE);
      expect(steps.join(' ')).to.include('copied 2 runs');
      // Run again: nothing more to do.
      expect(await prepareSchema(legacyDb)).to.deep.equal([]);

      const mapping = parseMappingEntries(['symbol:XBTUSD=Quantower/Kraken', 'run:2=Quantower/Kraken']).mapping;
      const migrator = new LegacyMigrator(new LegacyStore(legacyDb, 'run_bars'), { mapping, chunkBars: 30 });
      const outcome = await migrator.migrate();
      expect(outcome.report).to.include({ legacyBars: 200, distinctBars: 100, migratedBars: 100, conflicts: 0 });
      expect(await legacyDb('market_series').select('symbol', 'timeframe', 'venue')).to.deep.equal([
        { symbol: 'BTC/USD', timeframe: '1-Hour', venue: 'Kraken' },
      ]);
      expect(await legacyDb('run_subscriptions').orderBy('run_id').pluck('run_id')).to.deep.equal(['1', '2']);
      expect(await legacyDb(LEGACY_RUNS_TABLE).orderBy('id').pluck('strategy')).to.deep.equal(['ema', 'rsi']);
      await migrator.dropLegacy();
      expect(await legacyDb.schema.hasTable('run_bars')).to.equal(false);
      expect(
        await legacyDb('run_series').whereNotNull('series_id').count<Array<{ count: string }>>('* as count'),
      ).to.deep.equal([{ count: '2' }]);
    } finally {
      await legacyDb.destroy();
      await db().raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});
