import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { WireBar } from '../../shared/domain/bar';
import {
  ChildWorker,
  closeDb,
  db,
  minuteBar,
  minutesAgo,
  sleep,
  TestContext,
  truncateData,
  waitFor,
  countRows,
} from '../support/stack';

const STACK = path.resolve(__dirname, '../../scripts/stack.sh');

/** 10 series x `perSeries` bars, sent by 3 runs, then a correction of every 50th bar. */
function stream(perSeries: number): { messages: WireBar[]; distinct: number; corrected: number } {
  const start = minutesAgo(perSeries + 10);
  const symbols = [
    'BTCUSDT',
    'ETHUSDT',
    'SOLUSDT',
    'BNBUSDT',
    'XRPUSDT',
    'ADAUSDT',
    'DOGEUSDT',
    'LTCUSDT',
    'DOTUSDT',
    'TRXUSDT',
  ];
  const messages: WireBar[] = [];
  for (let run = 1; run <= 3; run++) {
    for (const symbol of symbols) {
      for (let i = 0; i < perSeries; i++) messages.push(minuteBar(start, i, { symbol, run_id: `run-${run}` }));
    }
  }
  let corrected = 0;
  for (const symbol of symbols) {
    for (let i = 0; i < perSeries; i += 50) {
      messages.push(minuteBar(start, i, { symbol, close: 100.5 + i, run_id: 'run-1' }));
      corrected++;
    }
  }
  return { messages, distinct: symbols.length * perSeries, corrected };
}

/** What a clean run leaves: every bar once, corrections applied once. */
async function finalState(): Promise<string> {
  const { rows } = await db().raw(`
    SELECT s.symbol, count(*)::int AS bars, sum(b.close)::float8 AS closes, sum(b.revision)::int AS revisions
      FROM market_bars b JOIN market_series s ON s.id = b.series_id GROUP BY s.symbol ORDER BY s.symbol`);
  return JSON.stringify(rows);
}

describe('failures: crashes and a failing database', function () {
  this.timeout(240_000);
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext({ BI_SESSION_TIMEOUT_MS: '6000' }).setup();
  });
  afterEach(async () => ctx.close());

  it('a worker killed with SIGKILL mid-stream, then restarted, leaves exactly what a clean run leaves', async () => {
    const { messages, distinct, corrected } = stream(1_000);

    // The clean run, on its own topics.
    const clean = await new TestContext().setup();
    try {
      await clean.publish(messages);
      await clean.startWorker({ BI_FLUSH_MAX_MESSAGES: '500' });
      await clean.waitForLag0(120_000);
    } finally {
      await clean.close();
    }
    const expected = await finalState();
    expect(await countRows('market_bars')).to.equal(distinct);
    await truncateData();

    await ctx.publish(messages);
    const doomed = new ChildWorker({ ...ctx.env, BI_FLUSH_MAX_MESSAGES: '500', BI_FLUSH_MAX_WAIT_MS: '200' });
    await doomed.started();
    // Many small flushes run back to back, so a kill at this point lands inside one.
    await waitFor(async () => (await countRows('market_bars')) >= distinct / 4, 60_000, 'a quarter of the bars');
    await doomed.kill('SIGKILL');
    const storedAtKill = await countRows('market_bars');
    expect(storedAtKill).to.be.below(distinct);
    expect(await ctx.lag()).to.be.greaterThan(0);

    const survivor = new ChildWorker({ ...ctx.env, BI_FLUSH_MAX_MESSAGES: '500', BI_FLUSH_MAX_WAIT_MS: '200' });
    await survivor.started();
    await ctx.waitForLag0(120_000);
    expect(await survivor.kill('SIGTERM')).to.equal(0);

    expect(await finalState()).to.equal(expected);
    expect(await countRows('market_bars')).to.equal(distinct);
    expect(await countRows('market_bars', (q) => q.where('revision', '>', 0))).to.equal(corrected);
    expect(await countRows('run_subscriptions')).to.equal(30);
  });

  it('PostgreSQL stopped for 30 s mid-stream: nothing dead-lettered, no offset past the stored rows, every bar stored once', async () => {
    const { messages, distinct } = stream(600);
    const half = Math.floor(messages.length / 2);
    const worker = await ctx.startWorker({ BI_FLUSH_MAX_MESSAGES: '500' });
    await ctx.publish(messages.slice(0, half));
    await ctx.waitForLag0(120_000);
    const committedBefore = (await ctx.lag()) === 0 ? half : -1;

    execFileSync(STACK, ['down', 'postgres'], { stdio: 'ignore' });
    await closeDb();
    try {
      // The rest of the stream arrives while the database is down.
      await ctx.publish(messages.slice(half));
      await waitFor(() => !worker.core.health().healthy, 30_000, 'the worker to report itself unhealthy');
      const downSince = Date.now();
      while (Date.now() - downSince < 30_000) {
        // The committed position never moves past what was stored before the outage.
        expect(await ctx.lag()).to.equal(messages.length - committedBefore);
        await sleep(2_000);
      }
      expect(worker.core.health().healthy).to.equal(false);
    } finally {
      execFileSync(STACK, ['up', 'postgres'], { stdio: 'ignore' });
    }

    await ctx.waitForLag0(120_000);
    // Readiness comes back once the background probe sees PostgreSQL again (every 5 s), which can
    // be a moment after the first write succeeded.
    await waitFor(() => worker.core.health().healthy, 15_000, 'the worker to report itself ready again');
    expect(await countRows('market_bars')).to.equal(distinct);
    expect(worker.core.metrics.rejectedTotal()).to.equal(0);
    expect(worker.core.metrics.dependencyFailures).to.be.greaterThan(0);
    expect(await ctx.messagesOn(ctx.topics.barsDlq)).to.equal(0);
  });
});
