import type { GapKind, GapStatus } from './gaps';
import { addBars, barsBetween, Timeframe } from './timeframe';

/**
 * What an analyst reads before trusting a backtest: the verdict over a set of gaps.
 * CLEAN: no gap at all. GAPS_FILLED: there were gaps, every one was filled (the bars are there now).
 * GAPS_OPEN: some bars are still missing (OPEN, BACKFILL_REQUESTED, NO_DATA or UNFILLABLE).
 */
export const VERDICTS = ['CLEAN', 'GAPS_FILLED', 'GAPS_OPEN'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Statuses whose bars are still missing from the store. */
export const MISSING_STATUSES: readonly GapStatus[] = ['OPEN', 'BACKFILL_REQUESTED', 'NO_DATA', 'UNFILLABLE'];

export function isMissing(status: GapStatus): boolean {
  return status !== 'FILLED';
}

export function verdictOf(statuses: Iterable<GapStatus>): Verdict {
  let any = false;
  for (const s of statuses) {
    if (isMissing(s)) return 'GAPS_OPEN';
    any = true;
  }
  return any ? 'GAPS_FILLED' : 'CLEAN';
}

/** Combines per-series verdicts: the worst wins. */
export function worstVerdict(verdicts: Iterable<Verdict>): Verdict {
  let worst = 0;
  for (const v of verdicts) worst = Math.max(worst, VERDICTS.indexOf(v));
  return VERDICTS[worst]!;
}

export interface Interval {
  fromMs: number;
  toMs: number;
}

export interface GapView extends Interval {
  gapId: string;
  seriesId: number;
  missingBars: number;
  kind: GapKind;
  status: GapStatus;
}

/**
 * The half-open span of bar open times a series holds: from its first bar to one bar after its
 * last, or null before its first bar.
 */
export function seriesSpan(tf: Timeframe, firstMs: number | null, lastMs: number | null): Interval | null {
  if (firstMs === null || lastMs === null) return null;
  return { fromMs: firstMs, toMs: addBars(tf, lastMs, 1) };
}

export function intersect(a: Interval, b: Interval): Interval | null {
  const fromMs = Math.max(a.fromMs, b.fromMs);
  const toMs = Math.min(a.toMs, b.toMs);
  return fromMs < toMs ? { fromMs, toMs } : null;
}

/**
 * Covered time inside `range`, derived without reading a single bar: every bar between a series'
 * first and last is stored except inside a gap that is still missing (every hole is recorded as a
 * gap, invariant 5), so the span minus those gaps is exactly what the store holds. This is what
 * keeps the read API fast at billions of bars. Gaps inside their grace period are not recorded
 * yet, so the last few seconds may look covered a little early.
 */
export function coveredIntervals(
  tf: Timeframe,
  span: Interval | null,
  gaps: ReadonlyArray<Interval & { status: GapStatus }>,
  range: Interval,
): Array<Interval & { bars: number }> {
  const within = span ? intersect(span, range) : null;
  if (!within) return [];
  const holes = gaps
    .filter((g) => isMissing(g.status))
    .map((g) => intersect(g, within))
    .filter((g): g is Interval => g !== null)
    .sort((a, b) => a.fromMs - b.fromMs);
  const out: Array<Interval & { bars: number }> = [];
  let cursor = within.fromMs;
  for (const h of holes) {
    if (h.fromMs > cursor) out.push({ fromMs: cursor, toMs: h.fromMs, bars: barsBetween(tf, cursor, h.fromMs) });
    cursor = Math.max(cursor, h.toMs);
  }
  if (cursor < within.toMs) out.push({ fromMs: cursor, toMs: within.toMs, bars: barsBetween(tf, cursor, within.toMs) });
  return out;
}

/** Counts of gaps by status and by kind, and the bars still missing: a series' or a run's state at a glance. */
export interface GapTally {
  total: number;
  byStatus: Record<GapStatus, number>;
  byKind: Record<GapKind, number>;
  missingBars: number;
  verdict: Verdict;
}

export function tallyGaps(gaps: ReadonlyArray<{ status: GapStatus; kind: GapKind; missingBars: number }>): GapTally {
  const byStatus: Record<GapStatus, number> = { OPEN: 0, BACKFILL_REQUESTED: 0, FILLED: 0, NO_DATA: 0, UNFILLABLE: 0 };
  const byKind: Record<GapKind, number> = { OFFLINE: 0, NO_ACTIVITY: 0, UNKNOWN: 0 };
  let missingBars = 0;
  for (const g of gaps) {
    byStatus[g.status]++;
    byKind[g.kind]++;
    if (isMissing(g.status)) missingBars += g.missingBars;
  }
  return { total: gaps.length, byStatus, byKind, missingBars, verdict: verdictOf(gaps.map((g) => g.status)) };
}

/** The verdict from counts alone (what SQL aggregates give for a list). */
export function verdictFromCounts(total: number, missing: number): Verdict {
  if (missing > 0) return 'GAPS_OPEN';
  return total > 0 ? 'GAPS_FILLED' : 'CLEAN';
}
