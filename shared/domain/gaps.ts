import { addBars, barsBetween, Timeframe } from './timeframe';

export const GAP_KINDS = ['OFFLINE', 'NO_ACTIVITY', 'UNKNOWN'] as const;
export type GapKind = (typeof GAP_KINDS)[number];
export const GAP_STATUSES = ['OPEN', 'BACKFILL_REQUESTED', 'FILLED', 'NO_DATA', 'UNFILLABLE'] as const;
export type GapStatus = (typeof GAP_STATUSES)[number];
/** How a FILLED gap's bars arrived: all as live (late) bars, all from history answers, or both. */
export const GAP_FILLS = ['LIVE', 'HISTORY', 'MIXED'] as const;
export type GapFill = (typeof GAP_FILLS)[number];

/** Missing bar open times `[fromMs, toMs)` of one series. */
export interface GapRange {
  readonly fromMs: number;
  readonly toMs: number;
  readonly missingBars: number;
}

/**
 * The holes in a series between `afterMs` (the last bar known before, or null for none) and the
 * sorted, distinct bar open times `times`: every place where the next bar opens later than one
 * interval after the previous one.
 */
export function findGaps(tf: Timeframe, afterMs: number | null, times: readonly number[]): GapRange[] {
  const gaps: GapRange[] = [];
  let prev = afterMs;
  for (const t of times) {
    if (prev !== null && t <= prev) continue;
    if (prev !== null) {
      const expected = addBars(tf, prev, 1);
      if (t > expected) gaps.push({ fromMs: expected, toMs: t, missingBars: barsBetween(tf, expected, t) });
    }
    prev = t;
  }
  return gaps;
}

/**
 * Whether the sorted, distinct bar open times `times` hold every bar of `(afterMs, uptoMs]`: then
 * that range has no hole whatever else is stored, and nothing needs to be read back.
 */
export function fillsRange(tf: Timeframe, afterMs: number, uptoMs: number, times: readonly number[]): boolean {
  const within = times.filter((t) => t > afterMs && t <= uptoMs);
  return within[within.length - 1] === uptoMs && findGaps(tf, afterMs, within).length === 0;
}

/**
 * What is still missing of `[fromMs, toMs)` once the bars at `present` (sorted, distinct, inside
 * the range) are there: the gap shrinks, splits, or disappears.
 */
export function remainingGaps(
  tf: Timeframe,
  range: { fromMs: number; toMs: number },
  present: readonly number[],
): GapRange[] {
  const out: GapRange[] = [];
  let cursor = range.fromMs;
  for (const t of present) {
    if (t < cursor || t >= range.toMs) continue;
    if (t > cursor) out.push({ fromMs: cursor, toMs: t, missingBars: barsBetween(tf, cursor, t) });
    cursor = addBars(tf, t, 1);
  }
  if (cursor < range.toMs)
    out.push({ fromMs: cursor, toMs: range.toMs, missingBars: barsBetween(tf, cursor, range.toMs) });
  return out;
}

/** Deterministic: the same hole in the same series always gets the same id, whoever finds it. */
export function gapId(seriesId: number, fromMs: number): string {
  return `gap-${seriesId}-${fromMs}`;
}

/** Whether two lists of missing pieces are the same. */
export function sameRanges(a: readonly GapRange[], b: readonly GapRange[]): boolean {
  return a.length === b.length && a.every((r, i) => r.fromMs === b[i]!.fromMs && r.toMs === b[i]!.toMs);
}
