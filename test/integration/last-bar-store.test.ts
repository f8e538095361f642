import { expect } from 'chai';
import type Redis from 'ioredis';
import crypto from 'node:crypto';
import { createRedis } from '../../shared/adapters/redis';
import { LastBarStore } from '../../shared/adapters/last-bar-store';
import { moveLegacyLastBarKeys } from '../../shared/adapters/last-bar-migration';
import { baseConnections, uniqueName } from '../support/stack';
import { scriptCalls } from '../support/redis-stats';

describe('last-bar store on a single Redis', () => {
  let redis: Redis;
  beforeEach(async () => {
    redis = createRedis(baseConnections.redis, { lazyConnect: true }) as Redis;
    await redis.connect();
  });
  afterEach(() => redis.disconnect());

  it('claims the series of a whole flush with exactly one script call', async () => {
    const ns = `${uniqueName('t')}.bi:`;
    const store = new LastBarStore(redis, ns);
    const entries = Array.from({ length: 50 }, (_, i) => ({ seriesId: i + 1, maxMs: 60_000 * (i + 10) }));
    // The first call also loads the script (EVALSHA refused, then EVAL): count from the second.
    await store.claim(crypto.randomUUID(), entries.slice(0, 1), new Map([[1, null]]));
    const before = await scriptCalls(redis);
    const seeds = new Map(entries.map((e) => [e.seriesId, e.maxMs - 5 * 60_000]));
    const claimed = await store.claim(crypto.randomUUID(), entries, seeds);
    expect((await scriptCalls(redis)) - before).to.equal(1);
    expect(claimed.map((c) => c.seriesId)).to.deep.equal(entries.map((e) => e.seriesId));
    for (const [i, c] of claimed.slice(1).entries()) {
      const e = entries[i + 1]!;
      expect(c).to.deep.include({ needsSeed: false, previousMs: e.maxMs - 5 * 60_000 });
      expect(c.claims.map((x) => [x.afterMs, x.uptoMs])).to.deep.equal([[e.maxMs - 5 * 60_000, e.maxMs]]);
    }
    expect(await redis.get(`${ns}last:{7}`)).to.equal(String(entries[6]!.maxMs));
    await store.release(claimed.flatMap((c) => c.claims.map((x) => ({ seriesId: c.seriesId, field: x.field }))));
    expect(await redis.keys(`${ns}claims:*`)).to.deep.equal([]);
  });

  it('an upgraded install keeps its last bar times and unreleased claims: migrate-redis-keys moves the old key names', async () => {
    const ns = `${uniqueName('t')}.bi:`;
    // State as the workers before hash tags left it: series 1 with a claim a crashed worker never
    // released, series 2 with only a last bar time, series 3 already seen by a new worker too.
    await redis.set(`${ns}last:1`, '600000');
    await redis.hset(`${ns}claims:1`, 'dead-flush:1', '120000|600000');
    await redis.set(`${ns}last:2`, '300000');
    await redis.set(`${ns}last:3`, '900000');
    await redis.set(`${ns}last:{3}`, '840000');
    await redis.set(`other.bi:last:9`, '1');

    expect(await moveLegacyLastBarKeys(redis, ns)).to.deep.equal({ series: 3, claims: 1 });
    expect(await redis.keys(`${ns}last:[0-9]*`)).to.deep.equal([]);
    expect(await redis.keys(`${ns}claims:[0-9]*`)).to.deep.equal([]);
    expect(await redis.get('other.bi:last:9')).to.equal('1');
    expect(await redis.get(`${ns}last:{3}`)).to.equal('900000');

    // The next flush sees the old state: no seed asked, and the abandoned claim taken over.
    const store = new LastBarStore(redis, ns);
    const claimed = await store.claim(crypto.randomUUID(), [
      { seriesId: 1, maxMs: 720_000 },
      { seriesId: 2, maxMs: 360_000 },
    ]);
    expect(claimed.map((c) => [c.needsSeed, c.previousMs])).to.deep.equal([
      [false, 600_000],
      [false, 300_000],
    ]);
    expect(claimed[0]!.claims.map((c) => [c.afterMs, c.uptoMs]).sort()).to.deep.equal([
      [120_000, 600_000],
      [600_000, 720_000],
    ]);

    // Again: nothing left to move.
    expect(await moveLegacyLastBarKeys(redis, ns)).to.deep.equal({ series: 0, claims: 0 });
  });
});
