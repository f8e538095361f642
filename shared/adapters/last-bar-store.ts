import fs from 'node:fs';
import path from 'node:path';
import type { RedisClient } from './redis';
import { checkNamespace, claimsKey, groupBySlot, lastBarKey } from './last-bar-keys';

/**
 * last_bar_time per series in Redis, read and advanced for every series of a flush in one atomic
 * script, so two workers that see the same series at once each claim a disjoint range of it.
 *
 * A claim `(afterMs, uptoMs]` is journaled in the same script and released only after its gaps
 * are stored; a worker that dies in between leaves the claim behind, and the next flush of that
 * series takes it over, so a crash can delay a gap but never lose it. The script, with its KEYS
 * and ARGV layout, is lua/claim-last-bar-times.lua; the key names are in last-bar-keys.ts.
 *
 * On a single Redis the whole flush is one script call. On a Redis Cluster a script may only touch
 * keys of one hash slot, so the flush is split into one call per slot (the two keys of a series
 * share a slot through their hash tag); the calls go out at once, and each is atomic for its
 * series, which is all the claim needs (no claim spans two series).
 */
const CLAIM_SCRIPT = fs.readFileSync(path.join(__dirname, 'lua/claim-last-bar-times.lua'), 'utf8');

/** Seed for a series not looked up in PostgreSQL yet: the script claims nothing and says so. */
const UNKNOWN = '?';

export interface Claim {
  /** Journal field, for release. */
  field: string;
  /** The last bar before the claimed range, or null when the series had none. */
  afterMs: number | null;
  uptoMs: number;
}

export interface LastBarClaim {
  seriesId: number;
  /** Redis had no last_bar_time and no seed was given: nothing was claimed; seed it and ask again. */
  needsSeed: boolean;
  /** last_bar_time before this flush advanced it (null: none known). */
  previousMs: number | null;
  /** This flush's claim and any abandoned ones for the series. */
  claims: Claim[];
}

export interface ClaimEntry {
  seriesId: number;
  maxMs: number;
}

/** One call of the claim script: which entries it covers (by input position), its KEYS and ARGV. */
export interface ClaimCall {
  indexes: number[];
  keys: string[];
  args: string[];
}

/**
 * The script calls for one flush: one call with every series on a single node, one call per hash
 * slot on a cluster. Pure, so the grouping is tested without a Redis.
 */
export function claimCalls(
  namespace: string,
  token: string,
  entries: readonly ClaimEntry[],
  seeds: ReadonlyMap<number, number | null>,
  cluster: boolean,
): ClaimCall[] {
  const seed = (id: number): string => {
    if (!seeds.has(id)) return UNKNOWN;
    const ms = seeds.get(id);
    return ms === null || ms === undefined ? '' : String(ms);
  };
  const call = (part: readonly ClaimEntry[], indexes: number[]): ClaimCall => ({
    indexes,
    keys: part.flatMap((e) => [lastBarKey(namespace, e.seriesId), claimsKey(namespace, e.seriesId)]),
    args: [token, ...part.flatMap((e) => [String(e.maxMs), seed(e.seriesId)])],
  });
  if (!cluster)
    return [
      call(
        entries,
        entries.map((_, i) => i),
      ),
    ];
  return groupBySlot(entries, (e) => lastBarKey(namespace, e.seriesId)).map((g) => call(g.items, g.indexes));
}

type ClaimReply = Array<[string, string[]]>;

export class LastBarStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly namespace: string,
  ) {
    checkNamespace(namespace);
    redis.defineCommand('biClaim', { lua: CLAIM_SCRIPT });
  }

  private run(call: ClaimCall): Promise<ClaimReply> {
    const redis = this.redis as RedisClient & { biClaim(...a: unknown[]): Promise<unknown> };
    return redis.biClaim(call.keys.length, ...call.keys, ...call.args) as Promise<ClaimReply>;
  }

  /**
   * One round trip for the whole flush (one script call on a single node; on a cluster, one per
   * hash slot, sent together). `seeds` holds, for series Redis may not know, the last bar before
   * this flush according to PostgreSQL (null when there is none); a series Redis does not know
   * and `seeds` does not cover comes back with `needsSeed`, unclaimed.
   */
  async claim(
    token: string,
    entries: ClaimEntry[],
    seeds: ReadonlyMap<number, number | null> = new Map(),
  ): Promise<LastBarClaim[]> {
    if (entries.length === 0) return [];
    const calls = claimCalls(this.namespace, token, entries, seeds, this.redis.isCluster);
    const replies = await Promise.all(calls.map((c) => this.run(c)));
    const raw = new Array<[string, string[]]>(entries.length);
    calls.forEach((c, ci) => c.indexes.forEach((at, j) => (raw[at] = replies[ci]![j]!)));
    return entries.map((e, i) => {
      const [cur, flat] = raw[i]!;
      const claims: Claim[] = [];
      for (let j = 0; j < flat.length; j += 2) {
        const [after, upto] = flat[j + 1]!.split('|');
        claims.push({ field: flat[j]!, afterMs: after === '' ? null : Number(after), uptoMs: Number(upto) });
      }
      return {
        seriesId: e.seriesId,
        needsSeed: cur === UNKNOWN,
        previousMs: cur === '' || cur === UNKNOWN ? null : Number(cur),
        claims,
      };
    });
  }

  async release(done: Array<{ seriesId: number; field: string }>): Promise<void> {
    if (done.length === 0) return;
    if (!this.redis.isCluster) {
      const pipeline = this.redis.pipeline();
      for (const d of done) pipeline.hdel(claimsKey(this.namespace, d.seriesId), d.field);
      await pipeline.exec();
      return;
    }
    // A cluster pipeline must stay on one node: one HDEL per series instead, sent together.
    const fields = new Map<number, string[]>();
    for (const d of done) fields.set(d.seriesId, [...(fields.get(d.seriesId) ?? []), d.field]);
    await Promise.all([...fields].map(([id, f]) => this.redis.hdel(claimsKey(this.namespace, id), ...f)));
  }
}
