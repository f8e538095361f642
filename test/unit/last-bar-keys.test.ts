import { expect } from 'chai';
import {
  checkNamespace,
  claimsKey,
  groupBySlot,
  InvalidRedisNamespaceError,
  lastBarKey,
  legacySeriesId,
  slotOf,
} from '../../shared/adapters/last-bar-keys';
import { claimCalls } from '../../shared/adapters/last-bar-store';
import { clusterOptions } from '../../shared/adapters/redis';
import { ConfigError, EnvReader } from '../../shared/runtime/config';
import { isTransient } from '../../shared/runtime/failures';
import { readConnections, readRedisNamespace } from '../../shared/runtime/connections';

const entries = Array.from({ length: 200 }, (_, i) => ({ seriesId: i + 1, maxMs: 1_000 * (i + 1) }));

describe('last-bar keys: one hash slot per series, calls grouped by slot', () => {
  it('the two keys of a series share a slot (the series id is the hash tag), and series spread over slots', () => {
    for (const { seriesId } of entries) {
      expect(slotOf(claimsKey('bi:', seriesId))).to.equal(slotOf(lastBarKey('bi:', seriesId)));
      expect(slotOf(lastBarKey('bi:', seriesId))).to.equal(slotOf(`{${seriesId}}`));
    }
    expect(lastBarKey('t-1.bi:', 42)).to.equal('t-1.bi:last:{42}');
    expect(claimsKey('t-1.bi:', 42)).to.equal('t-1.bi:claims:{42}');
    expect(new Set(entries.map((e) => slotOf(lastBarKey('bi:', e.seriesId)))).size).to.be.above(190);
  });

  it('groupBySlot: one group per slot, in order of first appearance, with input positions', () => {
    // Keys 'a{x}' and 'b{x}' share the slot of x.
    const items = ['a{x}', 'a{y}', 'b{x}', 'a{z}', 'b{y}'];
    const groups = groupBySlot(items, (k) => k);
    expect(groups.map((g) => g.items)).to.deep.equal([['a{x}', 'b{x}'], ['a{y}', 'b{y}'], ['a{z}']]);
    expect(groups.map((g) => g.indexes)).to.deep.equal([[0, 2], [1, 4], [3]]);
    expect(groups.map((g) => g.slot)).to.deep.equal([slotOf('x'), slotOf('y'), slotOf('z')]);
    expect(groupBySlot([], (k: string) => k)).to.deep.equal([]);
  });

  it('a single node gets exactly one script call for the whole flush, with the KEYS/ARGV layout of the script', () => {
    const seeds = new Map<number, number | null>([
      [1, 500],
      [2, null],
    ]);
    const calls = claimCalls('bi:', 'tok', entries.slice(0, 3), seeds, false);
    expect(calls).to.deep.equal([
      {
        indexes: [0, 1, 2],
        keys: ['bi:last:{1}', 'bi:claims:{1}', 'bi:last:{2}', 'bi:claims:{2}', 'bi:last:{3}', 'bi:claims:{3}'],
        args: ['tok', '1000', '500', '2000', '', '3000', '?'],
      },
    ]);
    expect(claimCalls('bi:', 'tok', entries, new Map(), false)).to.have.length(1);
  });

  it('a cluster gets one call per slot: every key of a call in one slot, every series exactly once', () => {
    const calls = claimCalls('bi:', 'tok', entries, new Map(), true);
    const slots = new Set(entries.map((e) => slotOf(lastBarKey('bi:', e.seriesId))));
    expect(calls).to.have.length(slots.size);
    for (const c of calls) {
      expect(new Set(c.keys.map(slotOf)).size, c.keys.join(' ')).to.equal(1);
      expect(c.keys).to.have.length(2 * c.indexes.length);
      expect(c.args).to.have.length(1 + 2 * c.indexes.length);
      c.indexes.forEach((at, j) => {
        expect(c.keys[2 * j]).to.equal(lastBarKey('bi:', entries[at]!.seriesId));
        expect(c.args[1 + 2 * j]).to.equal(String(entries[at]!.maxMs));
      });
    }
    expect(calls.flatMap((c) => c.indexes).sort((a, b) => a - b)).to.deep.equal(entries.map((_, i) => i));
    // Two series whose ids hash to one slot share a call.
    let b = 2;
    while (slotOf(`{${b}}`) !== slotOf('{1}')) b += 1;
    const shared = claimCalls(
      'bi:',
      'tok',
      [
        { seriesId: 1, maxMs: 1 },
        { seriesId: 3, maxMs: 3 },
        { seriesId: b, maxMs: 2 },
      ],
      new Map(),
      true,
    );
    expect(shared.map((c) => c.indexes)).to.deep.equal([[0, 2], [1]]);
  });

  it('recognises the legacy key names (before hash tags) of its own namespace only', () => {
    expect(legacySeriesId('bi:', 'bi:last:42')).to.equal(42);
    expect(legacySeriesId('bi:', 'bi:claims:7')).to.equal(7);
    expect(legacySeriesId('bi:', 'bi:last:{42}')).to.equal(undefined);
    expect(legacySeriesId('bi:', 'other:last:42')).to.equal(undefined);
    expect(legacySeriesId('bi:', 'bi:last:42x')).to.equal(undefined);
  });

  it('refuses a namespace with a brace, which would change the hash tag', () => {
    expect(() => checkNamespace('bi{x}:')).to.throw(InvalidRedisNamespaceError);
    expect(() => checkNamespace('t-abc.bi:')).not.to.throw();
    const env = new EnvReader({ BI_REDIS_NAMESPACE: 'a{}:' });
    readRedisNamespace(env, '');
    expect(() => env.check()).to.throw(ConfigError, 'must not contain a brace');
  });
});

describe('BI_REDIS_CLUSTER_NODES', () => {
  const FILES: Record<string, string> = { '/tls/ca.pem': 'CA-PEM' };
  const read = (p: string): string => FILES[p] ?? '';

  it('unset: a single node; set: the seed nodes, validated', () => {
    expect(readConnections(new EnvReader({}), 't').redis.clusterNodes).to.deep.equal([]);
    const env = new EnvReader({ BI_REDIS_CLUSTER_NODES: 'r1.example.com:6379, 10.0.0.2:7000' });
    expect(readConnections(env, 't').redis.clusterNodes).to.deep.equal([
      { host: 'r1.example.com', port: 6379 },
      { host: '10.0.0.2', port: 7000 },
    ]);
    env.check();
    const bad = new EnvReader({ BI_REDIS_CLUSTER_NODES: 'r1.example.com,r2:99999' });
    readConnections(bad, 't');
    expect(() => bad.check())
      .to.throw(ConfigError)
      .with.property('message')
      .that.includes('BI_REDIS_CLUSTER_NODES entry "r1.example.com" is not host:port')
      .and.includes('BI_REDIS_CLUSTER_NODES entry "r2:99999" is not host:port');
    const help = new EnvReader({});
    readConnections(help, 't');
    expect(help.helpText()).to.include('BI_REDIS_CLUSTER_NODES');
  });

  it('every cluster node connection gets the ACL user, password and TLS of the secured settings', () => {
    const env = new EnvReader(
      {
        BI_REDIS_CLUSTER_NODES: 'r1:6379',
        BI_REDIS_USERNAME: 'bi',
        BI_REDIS_PASSWORD: 'pw',
        BI_REDIS_TLS: 'true',
        BI_REDIS_CA_FILE: '/tls/ca.pem',
      },
      read,
    );
    const c = readConnections(env, 't');
    env.check();
    const o = clusterOptions(c.redis, { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: () => null });
    expect(o.lazyConnect).to.equal(true);
    expect(o.redisOptions).to.deep.include({
      username: 'bi',
      password: 'pw',
      tls: { ca: 'CA-PEM' },
      maxRetriesPerRequest: 2,
    });
    expect(o.redisOptions).not.to.have.any.keys('host', 'port', 'retryStrategy', 'lazyConnect');
    expect(o.clusterRetryStrategy?.(1, undefined)).to.equal(null);
    expect(o.dnsLookup).to.be.a('function');
    const plain = clusterOptions(readConnections(new EnvReader({ BI_REDIS_CLUSTER_NODES: 'r1:6379' }), 't').redis);
    expect(plain.redisOptions?.tls).to.equal(undefined);
    expect(plain.dnsLookup).to.equal(undefined);
  });
});

describe('Redis Cluster failures', () => {
  it('a cluster without a reachable node or a settled slot map is retried; CROSSSLOT (a bug) is not', () => {
    const named = (name: string, message: string) => Object.assign(new Error(message), { name });
    expect(isTransient(named('ClusterAllFailedError', 'Failed to refresh slots cache.'))).to.equal(true);
    expect(isTransient(new Error("Cluster isn't ready and enableOfflineQueue options is false"))).to.equal(true);
    expect(isTransient(new Error('CLUSTERDOWN The cluster is down'))).to.equal(true);
    expect(isTransient(new Error("CROSSSLOT Keys in request don't hash to the same slot"))).to.equal(false);
  });
});
