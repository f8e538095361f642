import fs from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import type { RedisClient } from './redis';
import {
  checkNamespace,
  claimsKey,
  lastBarKey,
  legacyClaimsKey,
  legacyLastBarKey,
  legacySeriesId,
} from './last-bar-keys';

/**
 * The one-shot move of last-bar state from the key names before hash tags (`bi:last:42`) to the
 * current ones (`bi:last:{42}`), for an install upgraded in place. Why a command and not a
 * fallback read in the claim script: the fallback would send the old key names with every flush
 * forever, and the old keys of a series lie in two hash slots, which a Redis Cluster refuses.
 * Without it nothing breaks loudly, but an abandoned claim journaled under an old name would
 * never be taken over (a gap lost) and every series would be seeded from PostgreSQL once.
 *
 * Idempotent and safe while workers run (each batch is one atomic script; the later time and
 * every claim are kept), so: stop the old workers, start the new ones, run it (in either order).
 */
const MOVE_SCRIPT = fs.readFileSync(path.join(__dirname, 'lua/move-legacy-last-bar-keys.lua'), 'utf8');

const BATCH = 200;

export interface LegacyKeysMoved {
  /** Series with old keys found. */
  series: number;
  /** Claims carried over into the new journals. */
  claims: number;
}

export async function moveLegacyLastBarKeys(redis: RedisClient, namespace: string): Promise<LegacyKeysMoved> {
  checkNamespace(namespace);
  // Before hash tags the claim script could not run on a cluster at all: no cluster has old keys.
  if (redis.isCluster) return { series: 0, claims: 0 };
  const single = redis as Redis;
  const ids = new Set<number>();
  for (const kind of ['last:', 'claims:']) {
    // The glob's `[0-9]` skips the new names (`last:{...}`) without reading them.
    const stream = single.scanStream({ match: `${globEscape(namespace + kind)}[0-9]*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      for (const key of keys) {
        const id = legacySeriesId(namespace, key);
        if (id !== undefined) ids.add(id);
      }
    }
  }
  if (!('biMoveLegacy' in single)) single.defineCommand('biMoveLegacy', { lua: MOVE_SCRIPT });
  const move = (single as Redis & { biMoveLegacy(...a: unknown[]): Promise<[number, number]> }).biMoveLegacy;
  const all = [...ids].sort((a, b) => a - b);
  const total: LegacyKeysMoved = { series: 0, claims: 0 };
  for (let i = 0; i < all.length; i += BATCH) {
    const keys = all
      .slice(i, i + BATCH)
      .flatMap((id) => [
        legacyLastBarKey(namespace, id),
        legacyClaimsKey(namespace, id),
        lastBarKey(namespace, id),
        claimsKey(namespace, id),
      ]);
    const [series, claims] = await move.call(single, keys.length, ...keys);
    total.series += series;
    total.claims += claims;
  }
  return total;
}

/** A literal prefix for a SCAN pattern: glob characters in a namespace match only themselves. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
