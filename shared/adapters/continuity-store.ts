import Redis from 'ioredis';
import fs from 'node:fs';
import path from 'node:path';

/**
 * last_bar_time per series in Redis, read and advanced for every series of a flush in one atomic
 * script, so two workers that see the same series at once each claim a disjoint range of it.
 *
 * A claim `(afterMs, uptoMs]` is journaled in the same script and released only after its gaps
 * are stored; a worker that dies in between leaves the claim behind, and the next flush of that
 * series takes it over, so a crash can delay a gap but never lose it. The script, with its KEYS
 * and ARGV layout, is lua/claim-last-bar-times.lua.
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

export interface SeriesClaimResult {
  seriesId: number;
  /** Redis had no last_bar_time and no seed was given: nothing was claimed; seed it and ask again. */
  needsSeed: boolean;
  /** last_bar_time before this flush advanced it (null: none known). */
  previousMs: number | null;
  /** This flush's claim and any abandoned ones for the series. */
  claims: Claim[];
}

export class ContinuityStore {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {
    redis.defineCommand('biClaim', { lua: CLAIM_SCRIPT });
  }

  private lastKey(seriesId: number): string {
    return `${this.namespace}last:${seriesId}`;
  }
  private claimsKey(seriesId: number): string {
    return `${this.namespace}claims:${seriesId}`;
  }

  /**
   * One round trip for the whole flush. `seeds` holds, for series Redis may not know, the last
   * bar before this flush according to PostgreSQL (null when there is none); a series Redis does
   * not know and `seeds` does not cover comes back with `needsSeed`, unclaimed.
   */
  async claim(
    token: string,
    entries: Array<{ seriesId: number; maxMs: number }>,
    seeds: ReadonlyMap<number, number | null> = new Map(),
  ): Promise<SeriesClaimResult[]> {
    if (entries.length === 0) return [];
    const keys = entries.flatMap((e) => [this.lastKey(e.seriesId), this.claimsKey(e.seriesId)]);
    const seed = (id: number): string => {
      if (!seeds.has(id)) return UNKNOWN;
      const ms = seeds.get(id);
      return ms === null || ms === undefined ? '' : String(ms);
    };
    const args = [token, ...entries.flatMap((e) => [String(e.maxMs), seed(e.seriesId)])];
    const raw = (await (this.redis as Redis & { biClaim(...a: unknown[]): Promise<unknown> }).biClaim(
      entries.length * 2,
      ...keys,
      ...args,
    )) as Array<[string, string[]]>;
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
    const pipeline = this.redis.pipeline();
    for (const d of done) pipeline.hdel(this.claimsKey(d.seriesId), d.field);
    await pipeline.exec();
  }
}
