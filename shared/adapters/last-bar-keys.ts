/**
 * The Redis keys of the last-bar state, and how a flush's series are grouped by hash slot.
 *
 * The two keys of one series carry the series id as a hash tag (`bi:last:{42}`, `bi:claims:{42}`),
 * so Redis Cluster puts them in one slot and the claim script may touch both; different series
 * spread over all slots, hence over all masters. On a single node the tag changes nothing.
 *
 * Before hash tags (up to issue 18) the keys were `bi:last:42` and `bi:claims:42`; those are the
 * "legacy" keys that `scripts/migrate-redis-keys.ts` moves to the new names.
 */
import calculateSlot from 'cluster-key-slot';

export const lastBarKey = (namespace: string, seriesId: number): string => `${namespace}last:{${seriesId}}`;
export const claimsKey = (namespace: string, seriesId: number): string => `${namespace}claims:{${seriesId}}`;

export const legacyLastBarKey = (namespace: string, seriesId: number): string => `${namespace}last:${seriesId}`;
export const legacyClaimsKey = (namespace: string, seriesId: number): string => `${namespace}claims:${seriesId}`;

/** The series id of a legacy key of this namespace (`bi:last:42` -> 42), or undefined for any other key. */
export function legacySeriesId(namespace: string, key: string): number | undefined {
  for (const kind of ['last:', 'claims:']) {
    const prefix = namespace + kind;
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    return /^[0-9]+$/.test(rest) ? Number(rest) : undefined;
  }
  return undefined;
}

/**
 * A namespace with a brace in it would change which part of a key is its hash tag (Redis hashes
 * the first `{...}`), and an empty `{}` would put the two keys of a series in different slots.
 */
export function checkNamespace(namespace: string): void {
  if (/[{}]/.test(namespace)) {
    throw new InvalidRedisNamespaceError(namespace);
  }
}

export class InvalidRedisNamespaceError extends Error {
  readonly code = 'INVALID_REDIS_NAMESPACE';
  constructor(namespace: string) {
    super(
      `BI_REDIS_NAMESPACE=${JSON.stringify(namespace)} contains a brace: Redis Cluster would read it as a hash tag`,
    );
    this.name = 'InvalidRedisNamespaceError';
  }
}

export const slotOf = (key: string): number => calculateSlot(key);

export interface SlotGroup<T> {
  slot: number;
  items: T[];
  /** Where each item stood in the input, so replies can be put back in input order. */
  indexes: number[];
}

/**
 * Items grouped by the hash slot of their key, in order of first appearance; within a group,
 * input order. One group per slot: a Redis Cluster runs one script call per group.
 */
export function groupBySlot<T>(items: readonly T[], keyOf: (item: T) => string): Array<SlotGroup<T>> {
  const groups = new Map<number, SlotGroup<T>>();
  items.forEach((item, i) => {
    const slot = slotOf(keyOf(item));
    let g = groups.get(slot);
    if (!g) {
      g = { slot, items: [], indexes: [] };
      groups.set(slot, g);
    }
    g.items.push(item);
    g.indexes.push(i);
  });
  return [...groups.values()];
}
