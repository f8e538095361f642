import { expect } from 'chai';
import { createRedis } from '../../shared/adapters/redis';
import type { WireBar } from '../../shared/domain/bar';
import { gapId } from '../../shared/domain/gaps';
import { CRASH_POINTS } from '../../shared/runtime/crash-points';
import { ChildWorker, db, minuteBar, minutesAgo, TestContext, truncateData, waitFor } from '../support/stack';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT'];
const FLUSH = { BI_FLUSH_MAX_MESSAGES: '100', BI_FLUSH_MAX_WAIT_MS: '200' };

/**
 * 4 series x 200 minutes sent by two runs, with a 3-bar hole every 25 bars. Late bars come more
 * than one flush after the hole they fall into (so every run, however its flushes are cut, first
 * reports the hole): one splits a hole, three fill another.
 */
function stream(): WireBar[] {
  const start = minutesAgo(300);
  const out: WireBar[] = [];
  for (const symbol of SYMBOLS) {
    const bar = (i: number, run: string): WireBar => minuteBar(start, i, { symbol, run_id: run });
    for (let i = 0; i < 200; i++) {
      if (i % 25 >= 10 && i % 25 <= 12) continue;
      out.push(bar(i, 'run-1'), bar(i, 'run-2'));
      if (i === 150) out.push(bar(36, 'run-1'));
    }
    out.push(bar(60, 'run-2'), bar(61, 'run-2'), bar(62, 'run-2'));
  }
  return out;
}

/** The gaps as an analyst sees them: by series name, so series ids of two runs need not match. */
async function gapState(): Promise<string[]> {
  const rows = await db()('data_gaps as g')
    .join('market_series as s', 's.id', 'g.series_id')
    .orderBy([{ column: 's.symbol' }, { column: 'g.from_utc' }])
    .select(
      'g.gap_id',
      'g.series_id',
      's.symbol',
      'g.from_utc',
      'g.to_utc',
      'g.missing_bars',
      'g.remaining_bars',
      'g.status',
      'g.kind',
    );
  for (const r of rows) expect(r.gap_id).to.equal(gapId(Number(r.series_id), r.from_utc.getTime()));
  return rows.map(
    (r) =>
      `${r.symbol} ${r.from_utc.toISOString()} ${r.to_utc.toISOString()} ${r.missing_bars} ${r.remaining_bars} ${r.status} ${r.kind}`,
  );
}

const unpublishedGaps = async (): Promise<number> =>
  Number((await db()('data_gaps').whereRaw('event_version > published_version').count({ n: '*' }))[0]!.n);

/** The latest DataGap event of each gap, as `gap_id from to missing status`. */
async function latestEvents(ctx: TestContext): Promise<string[]> {
  const total = await ctx.messagesOn(ctx.topics.gaps);
  const latest = new Map<string, string>();
  for (const m of await ctx.readAll(ctx.topics.gaps, total, 30_000)) {
    const e = (await ctx.codec.decode(m.value!)) as Record<string, unknown>;
    latest.set(String(e.gap_id), `${e.gap_id} ${e.from_utc} ${e.to_utc} ${e.missing_bars} ${e.status}`);
  }
  return [...latest.values()].sort();
}

async function rowsAsEvents(): Promise<string[]> {
  const rows = await db()('data_gaps').select('gap_id', 'from_utc', 'to_utc', 'missing_bars', 'status');
  return rows
    .map((r) => `${r.gap_id} ${r.from_utc.getTime()} ${r.to_utc.getTime()} ${r.missing_bars} ${r.status}`)
    .sort();
}

/** Claims a worker journaled in Redis and never released. */
async function leftoverClaims(ctx: TestContext): Promise<number> {
  const redis = createRedis(ctx.connections.redis, { lazyConnect: true });
  await redis.connect();
  try {
    const keys = await redis.keys(`${ctx.prefix}bi:claims:*`);
    let n = 0;
    for (const k of keys) n += await redis.hlen(k);
    return n;
  } finally {
    redis.disconnect();
  }
}

describe('continuity: a worker killed between any two steps of a flush ends with the gaps of a clean run', function () {
  this.timeout(600_000);
  const messages = stream();
  let expected: string[];

  before(async () => {
    await truncateData();
    const clean = await new TestContext().setup();
    try {
      await clean.publish(messages);
      await clean.startWorker(FLUSH);
      await clean.waitForLag0(120_000);
      await waitFor(async () => (await unpublishedGaps()) === 0, 30_000, 'every gap event published');
      expected = await gapState();
      expect(await latestEvents(clean)).to.deep.equal(await rowsAsEvents());
    } finally {
      await clean.close();
    }
    // 8 holes per series: one gap each (a gap keeps its detected range: the split is in what is
    // still missing of it, 2 of 3 bars), one filled.
    expect(expected).to.have.length(SYMBOLS.length * 8);
    expect(expected.filter((g) => g.includes(' 3 2 OPEN '))).to.have.length(SYMBOLS.length);
    expect(expected.filter((g) => g.includes(' FILLED '))).to.have.length(SYMBOLS.length);
  });

  for (const point of CRASH_POINTS) {
    it(`SIGKILL at ${point}`, async () => {
      await truncateData();
      const ctx = await new TestContext({ BI_SESSION_TIMEOUT_MS: '6000' }).setup();
      try {
        await ctx.publish(messages);
        // The third time: mid-stream, with gaps already stored by earlier flushes.
        const doomed = new ChildWorker({ ...ctx.env, ...FLUSH, BI_CRASH_AT: `${point}:3` });
        expect(await doomed.exited(120_000)).to.equal(null);
        expect(doomed.logs.some((l) => l.includes('crashing on purpose') && l.includes(point))).to.equal(true);
        expect(await ctx.lag()).to.be.greaterThan(0);

        const survivor = new ChildWorker({ ...ctx.env, ...FLUSH });
        await survivor.started();
        await ctx.waitForLag0(120_000);
        await waitFor(async () => (await unpublishedGaps()) === 0, 30_000, 'every gap event published');
        expect(await survivor.kill('SIGTERM')).to.equal(0);

        expect(await gapState()).to.deep.equal(expected);
        // Events are at least once: a crash between sending and marking repeats one, never loses one.
        expect(await latestEvents(ctx)).to.deep.equal(await rowsAsEvents());
        expect(await leftoverClaims(ctx)).to.equal(0);
      } finally {
        await ctx.close();
      }
    });
  }
});
