/**
 * The ingest pipeline's gap detection on a real 3-master Redis Cluster (`make test-redis-cluster`
 * starts it with scripts/stack/redis-cluster.sh): the last-bar keys of the series of one flush
 * land on every master, the claim script runs once per hash slot, and no node refuses a call
 * (CROSSSLOT).
 */
import { expect } from 'chai';
import Redis from 'ioredis';
import { createRedis } from '../../shared/adapters/redis';
import { LastBarStore } from '../../shared/adapters/last-bar-store';
import { slotOf } from '../../shared/adapters/last-bar-keys';
import { db, minuteBar, minutesAgo, TestContext, truncateData } from '../support/stack';
import { errorReplies, scriptCalls } from '../support/redis-stats';

const M = 60_000;
const host = process.env.BI_REDIS_HOST ?? '127.0.0.1';
const firstPort = Number(process.env.BI_REDIS_CLUSTER_PORT ?? Number(process.env.BI_REDIS_PORT ?? 56379) + 20);
const NODES = [0, 1, 2].map((i) => `${host}:${firstPort + i}`).join(',');

/** One plain connection per node, to ask each what it holds and ran. */
async function nodeClients(): Promise<Redis[]> {
  const nodes = NODES.split(',').map((n) => {
    const [h, p] = n.split(':');
    return new Redis({ host: h, port: Number(p), lazyConnect: true, maxRetriesPerRequest: 2 });
  });
  await Promise.all(nodes.map((n) => n.connect()));
  return nodes;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

describe('gap detection on a 3-master Redis Cluster', function () {
  this.timeout(180_000);
  let nodes: Redis[];
  let ctx: TestContext;

  before(async () => {
    nodes = await nodeClients();
    const table = (await nodes[0]!.cluster('NODES')) as string;
    // id, address, flags, master, ping, pong, epoch, link state, then the slot ranges it serves.
    const masters = table
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter((f) => f[2]?.split(',').includes('master') && f.length > 8);
    expect(masters, `cluster nodes of ${NODES}:\n${table}`).to.have.length(3);
    expect(await nodes[0]!.cluster('INFO')).to.include('cluster_state:ok');
  });
  after(() => nodes.forEach((n) => n.disconnect()));

  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext({ BI_REDIS_CLUSTER_NODES: NODES }).setup();
  });
  afterEach(async () => ctx.close());

  it('finds every gap of eight series in shared flushes, with their keys spread over the masters and no CROSSSLOT', async () => {
    const t = minutesAgo(300);
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT', 'DOGEUSDT', 'LTCUSDT', 'BNBUSDT'];
    // Series k misses bars 10+k .. 12+k (3 bars); a second phase misses 40 .. 44 of every series.
    const phase = (from: number, to: number, missing: (k: number, i: number) => boolean) =>
      Array.from({ length: to - from }, (_, j) => from + j).flatMap((i) =>
        symbols.flatMap((symbol, k) => (missing(k, i) ? [] : [minuteBar(t, i, { symbol })])),
      );
    const calls0 = await Promise.all(nodes.map(scriptCalls));
    const crossSlot0 = sum(await Promise.all(nodes.map((n) => errorReplies(n, 'CROSSSLOT'))));

    const worker = await ctx.startWorker({ BI_FLUSH_MAX_MESSAGES: '400' });
    await ctx.publish(phase(0, 40, (k, i) => i >= 10 + k && i < 13 + k));
    await ctx.waitForLag0();
    await ctx.publish(phase(45, 60, () => false));
    await ctx.waitForLag0();

    const rows = await db()('data_gaps as g')
      .join('market_series as s', 's.id', 'g.series_id')
      .orderBy(['s.symbol', 'g.from_utc'])
      .select('s.symbol', 'g.series_id', 'g.from_utc', 'g.to_utc', 'g.missing_bars', 'g.status');
    const expected = symbols.flatMap((symbol, k) => [
      [symbol.replace('USDT', '/USDT'), t + (10 + k) * M, t + (13 + k) * M, 3],
      [symbol.replace('USDT', '/USDT'), t + 40 * M, t + 45 * M, 5],
    ]);
    expect(rows.map((r) => [r.symbol, r.from_utc.getTime(), r.to_utc.getTime(), r.missing_bars])).to.have.deep.members(
      expected,
    );
    expect(rows.every((r) => r.status === 'OPEN')).to.equal(true);

    // The keys of the eight series spread over the masters; every claim was released.
    const keysPerNode = await Promise.all(nodes.map((n) => n.keys(`${ctx.prefix}bi:last:*`)));
    expect(sum(keysPerNode.map((k) => k.length))).to.equal(symbols.length);
    expect(keysPerNode.filter((k) => k.length > 0).length).to.be.at.least(2);
    const seriesIds = [...new Set(rows.map((r) => Number(r.series_id)))];
    for (const id of seriesIds) {
      const holder = keysPerNode.findIndex((k) => k.includes(`${ctx.prefix}bi:last:{${id}}`));
      expect(holder, `series ${id}`).to.be.at.least(0);
      expect(await nodes[holder]!.get(`${ctx.prefix}bi:last:{${id}}`)).to.equal(String(t + 59 * M));
    }
    const claimKeys = (await Promise.all(nodes.map((n) => n.keys(`${ctx.prefix}bi:claims:*`)))).flat();
    expect(claimKeys).to.deep.equal([]);

    // Script calls ran on more than one master, none was refused, nothing failed in the worker.
    const calls = (await Promise.all(nodes.map(scriptCalls))).map((c, i) => c - calls0[i]!);
    expect(calls.filter((c) => c > 0).length, `script calls per master: ${calls.join(', ')}`).to.be.at.least(2);
    expect(sum(await Promise.all(nodes.map((n) => errorReplies(n, 'CROSSSLOT')))) - crossSlot0).to.equal(0);
    expect(worker.core.metrics.snapshot().dependency_failures).to.equal(0);
    expect(ctx.fatalErrors).to.deep.equal([]);
  });

  it('one claim call per hash slot: a flush of 40 series makes as many script calls as they have slots', async () => {
    const cluster = createRedis(ctx.connections.redis, { lazyConnect: true });
    await cluster.connect();
    try {
      const store = new LastBarStore(cluster, `${ctx.prefix}bi:`);
      const entries = Array.from({ length: 40 }, (_, i) => ({ seriesId: 1000 + i, maxMs: 600_000 }));
      const seeds = new Map(entries.map((e) => [e.seriesId, 60_000]));
      // Load the script on every master first (an EVALSHA the node does not know is retried as EVAL).
      await store.claim('warm-up', entries, seeds);
      const before = await Promise.all(nodes.map(scriptCalls));
      const claimed = await store.claim(
        'flush',
        entries.map((e) => ({ ...e, maxMs: 660_000 })),
      );
      const calls = sum((await Promise.all(nodes.map(scriptCalls))).map((c, i) => c - before[i]!));
      expect(calls).to.equal(new Set(entries.map((e) => slotOf(`{${e.seriesId}}`))).size);
      expect(claimed.map((c) => [c.seriesId, c.needsSeed, c.previousMs])).to.deep.equal(
        entries.map((e) => [e.seriesId, false, 600_000]),
      );
      for (const c of claimed) {
        expect(c.claims.map((x) => [x.afterMs, x.uptoMs]).sort()).to.deep.equal([
          [60_000, 600_000],
          [600_000, 660_000],
        ]);
      }
      await store.release(claimed.flatMap((c) => c.claims.map((x) => ({ seriesId: c.seriesId, field: x.field }))));
      const left = (await Promise.all(nodes.map((n) => n.keys(`${ctx.prefix}bi:claims:*`)))).flat();
      expect(left).to.deep.equal([]);
    } finally {
      cluster.disconnect();
    }
  });
});
