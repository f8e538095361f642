/**
 * Dependencies failing under a running fleet: PostgreSQL connections killed, PostgreSQL
 * read-only, a statement slower than the session timeout, Kafka restarted (also while gap events
 * are due), Redis restarted, the schema registry stopped. Each scenario ends with the state of a
 * clean run of the same plan (scenarioPlan / expectedState), and nothing dead-lettered that the
 * plan did not poison.
 */
import { expect } from 'chai';
import { db, sleep, waitFor } from '../support/stack';
import { CommitLog, stackService, superuserSql } from '../support/faults/harness';
import { scenarioPlan, Scenario, storedBars } from '../support/faults/scenario';

const WORKER_ROLE = process.env.BI_PG_WORKER_USER ?? 'bar_ingest_worker';

async function readOnly(on: boolean): Promise<void> {
  await superuserSql(
    on ? 'ALTER SYSTEM SET default_transaction_read_only = on' : 'ALTER SYSTEM RESET default_transaction_read_only',
  );
  await superuserSql('SELECT pg_reload_conf()');
}

describe('faults: dependencies', function () {
  this.timeout(400_000);
  let s: Scenario;
  const { plan, expected } = scenarioPlan(200);
  const firstBars = 300;

  // A run that died mid-scenario must not leave the cluster read-only for the next one.
  before(async () => readOnly(false));
  afterEach(async () => s?.close());

  it('worker connections killed with pg_terminate_backend mid-flush, three times', async () => {
    s = await new Scenario().setup({ ingest: 2 });
    const killedPerRound: number[] = [];
    await s.run(
      plan,
      async (phase) => {
        if (phase !== 0) return;
        for (let round = 0; round < 3; round++) {
          const before = await storedBars();
          await waitFor(async () => (await storedBars()) > before, 60_000, 'bars being stored');
          killedPerRound.push(
            Number(
              await superuserSql(
                `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
              WHERE usename = '${WORKER_ROLE}' AND datname = current_database()`,
              ),
            ),
          );
          await sleep(500);
        }
      },
      // Published over about 20 s: a fleet that drains the phase in two seconds leaves nothing in
      // flight for the second and third kill.
      { ratePerSec: 250 },
    );
    // Three real kills, each while the fleet was storing bars.
    expect(killedPerRound).to.have.length(3);
    expect(
      killedPerRound.every((n) => n > 0),
      `connections killed per round: ${killedPerRound}`,
    ).to.equal(true);
    expect((await s.verdict(expected)).details).to.deep.equal([]);
  });

  it('PostgreSQL read-only (default_transaction_read_only) for 8 s mid-stream', async () => {
    s = await new Scenario().setup({ ingest: 2 });
    let during = { first: -1, last: -1 };
    await s.run(plan, async (phase) => {
      if (phase !== 0) return;
      await waitFor(async () => (await storedBars()) >= firstBars, 60_000, 'bars stored');
      await readOnly(true);
      try {
        await sleep(1_000);
        const first = await storedBars();
        await sleep(7_000);
        during = { first, last: await storedBars() };
      } finally {
        await readOnly(false);
      }
    });
    // The fault was real: nothing was written while the database refused writes.
    expect(during.last).to.equal(during.first);
    expect((await s.verdict(expected)).details).to.deep.equal([]);
  });

  it('a statement slower than the session timeout (market_bars locked for 15 s): no rebalance, no duplicate gap', async () => {
    // Back-pressure engages while the write waits, so the worker must keep its membership itself.
    s = await new Scenario({ BI_MAX_PENDING_MESSAGES: '400' }).setup({ ingest: 2 });
    const log = new CommitLog(s.ctx, `${s.ctx.prefix}ingest`);
    await log.start();
    let window = { from: 0, to: 0 };
    try {
      await s.run(plan, async (phase) => {
        if (phase !== 0) return;
        await waitFor(async () => (await storedBars()) >= firstBars, 60_000, 'bars stored');
        await sleep(1_000);
        const from = Date.now();
        await db().transaction(async (trx) => {
          await trx.raw('LOCK TABLE market_bars IN EXCLUSIVE MODE');
          await sleep(15_000);
        });
        await sleep(2_000);
        window = { from, to: Date.now() };
      });
      // The reader has caught up once it has seen the group's start-up rebalances.
      await waitFor(() => log.generations.length > 0, 60_000, 'the group metadata in __consumer_offsets');
      await sleep(2_000);
    } finally {
      await log.stop();
    }
    expect(log.generationsBetween(window.from, window.to), 'rebalances while the statement was slow').to.deep.equal([]);
    expect((await s.verdict(expected)).details).to.deep.equal([]);
  });

  it('Redis restarted mid-stream (not only flushed)', async () => {
    s = await new Scenario().setup({ ingest: 2 });
    await s.run(plan, async (phase) => {
      if (phase !== 0) return;
      await waitFor(async () => (await storedBars()) >= firstBars, 60_000, 'bars stored');
      await stackService('down', 'redis');
      await sleep(3_000);
      await stackService('up', 'redis');
    });
    expect((await s.verdict(expected)).details).to.deep.equal([]);
  });

  it('the Kafka broker restarted mid-stream', async () => {
    s = await new Scenario().setup({ ingest: 2 });
    await s.run(plan, async (phase) => {
      if (phase !== 0) return;
      await waitFor(async () => (await storedBars()) >= firstBars, 60_000, 'bars stored');
      await stackService('down', 'kafka');
      await sleep(2_000);
      await stackService('up', 'kafka');
    });
    expect((await s.verdict(expected)).details).to.deep.equal([]);
  });

  it('the broker down while gap events are due: the outbox delivers exactly what is owed afterwards', async () => {
    // Gap events wait 5 s (the grace period), so the broker can go down after the gaps are stored
    // and before their events are due.
    s = await new Scenario({ BI_GAP_GRACE_MS: '5000' }).setup({ ingest: 2 });
    let unpublishedAtDown = 0;
    await s.run(plan, async (phase) => {
      if (phase !== 0) return;
      await waitFor(
        async () =>
          (await s.ctx.lag().catch(() => 1)) === 0 && (await db()('data_gaps').count({ n: '*' }))[0]!.n !== '0',
        60_000,
        'the first phase stored, with its gaps',
      );
      await stackService('down', 'kafka');
      unpublishedAtDown = Number(
        (await db()('data_gaps').whereRaw('event_version > published_version').count({ n: '*' }))[0]!.n,
      );
      await sleep(8_000);
      await stackService('up', 'kafka');
    });
    expect(unpublishedAtDown, 'gap events were still owed when the broker went down').to.be.greaterThan(0);
    expect((await s.verdict(expected)).details).to.deep.equal([]);
    // Exactly what is owed: every change of every gap once and in order (versions 1..n), none
    // twice, none skipped. (A gap's state alone can repeat: late bars shrink what remains of it.)
    const owed = s.actual!.gaps.map((g) => [g.gapId, Array.from({ length: g.eventVersion }, (_, i) => i + 1)]);
    const delivered = s.actual!.gaps.map((g) => [g.gapId, s.actual!.eventVersions.get(g.gapId) ?? []]);
    expect(delivered).to.deep.equal(owed);
  });

  // The registry's restart used to fail on a loaded machine (Apicurio's H2 pool gave up after 5 s);
  // scripts/stack/registry.sh now gives it 60 s and waits up to 5 min for the start.
  it('the schema registry stopped and started: a worker that starts meanwhile waits, nothing is dead-lettered', async () => {
    s = await new Scenario().setup({ ingest: 1 });
    await s.run(plan, async (phase) => {
      if (phase !== 0) return;
      await waitFor(async () => (await storedBars()) >= firstBars, 60_000, 'bars stored');
      await stackService('down', 'registry');
      try {
        // A new worker, with no schema cached, joins while the registry is away.
        s.fleet.start('ingest');
        await sleep(5_000);
      } finally {
        await stackService('up', 'registry');
      }
    });
    expect((await s.verdict(expected)).details).to.deep.equal([]);
  });
});
