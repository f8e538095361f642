/**
 * Time partitions of market_bars: the units a partition may span, and the pure rules of the
 * retention command (which partitions are old enough to drop). The database side lives in
 * migrations/20261127000020_partitioned_market_bars.ts and shared/adapters/bar-partitions.ts.
 */

/** Spans a partition may have; each is a PostgreSQL date_trunc unit, aligned in UTC. */
export const PARTITION_UNITS = ['day', 'week', 'month', 'quarter', 'year'] as const;
export type PartitionUnit = (typeof PARTITION_UNITS)[number];

export function isPartitionUnit(text: string): text is PartitionUnit {
  return (PARTITION_UNITS as readonly string[]).includes(text);
}

/** An age such as `12 months`, `90 days`, `2 years`, `6 weeks` (singular or plural). */
export interface Age {
  amount: number;
  unit: 'day' | 'week' | 'month' | 'year';
}

export class AgeFormatError extends Error {
  readonly code = 'BAD_AGE';
}

export function parseAge(text: string): Age {
  const m = /^\s*(\d{1,4})\s*(day|week|month|year)s?\s*$/i.exec(text);
  if (!m || Number(m[1]) <= 0)
    throw new AgeFormatError(`${JSON.stringify(text)} is not an age such as "12 months", "90 days", "2 years"`);
  return { amount: Number(m[1]), unit: m[2]!.toLowerCase() as Age['unit'] };
}

/** `nowMs` minus an age, in UTC calendar terms (months and years keep the day of month, clamped). */
export function cutoffOf(age: Age, nowMs: number): number {
  const d = new Date(nowMs);
  switch (age.unit) {
    case 'day':
      return nowMs - age.amount * 86_400_000;
    case 'week':
      return nowMs - age.amount * 7 * 86_400_000;
    case 'month':
    case 'year': {
      const months = age.unit === 'year' ? age.amount * 12 : age.amount;
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth() - months;
      const target = new Date(Date.UTC(y, m, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
      const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
      target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
      return target.getTime() + d.getUTCMilliseconds();
    }
  }
}

export interface PartitionSpan {
  name: string;
  fromMs: number;
  toMs: number;
}

/**
 * The partitions retention drops: those whose every bar is older than the cutoff (upper bound at
 * or before it). A partition straddling the cutoff is kept whole; the DEFAULT partition is never
 * a candidate (it has no bounds).
 */
export function partitionsOlderThan<P extends PartitionSpan>(partitions: P[], cutoffMs: number): P[] {
  return partitions.filter((p) => p.toMs <= cutoffMs).sort((a, b) => a.fromMs - b.fromMs);
}
