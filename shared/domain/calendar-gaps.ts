import { TradingCalendar } from './calendar';
import { fillsRange, findGaps, GapRange, remainingGaps } from './gaps';
import { addBars, alignDown, barsBetween, Timeframe } from './timeframe';

/**
 * Gap arithmetic that knows the venue's calendar. The bars a series should have are those whose
 * interval overlaps a session (intraday timeframes) or holds a trading date (Day, Week, Month:
 * bars follow trading days). A hole is cut into its runs of bars that should exist: closed time
 * before, after and inside it is trimmed away, so a hole across a close becomes one gap per
 * session it touches, each with a range and a missing_bars count of bars that should exist only,
 * and a hole entirely inside closed time is no gap. The same function drives gap detection,
 * settlement, coverage and so the range a backfill request asks for. With the always-open
 * calendar (crypto, the default) every function here is the plain one, at no extra cost.
 */

const DAY_MS = 86_400_000;
const INTRADAY = new Set(['Sec', 'Min', 'Hour']);

/** The runs of bars that should exist among the aligned bar open times `[fromMs, toMs)`. */
export function expectedRuns(cal: TradingCalendar, tf: Timeframe, range: { fromMs: number; toMs: number }): GapRange[] {
  const { fromMs, toMs } = range;
  if (toMs <= fromMs) return [];
  if (cal.alwaysOpen) return [{ fromMs, toMs, missingBars: barsBetween(tf, fromMs, toMs) }];
  const runs: Array<{ fromMs: number; toMs: number }> = [];
  const add = (lo: number, hi: number): void => {
    const prev = runs[runs.length - 1];
    if (prev && lo <= prev.toMs) prev.toMs = Math.max(prev.toMs, hi);
    else runs.push({ fromMs: lo, toMs: hi });
  };
  if (INTRADAY.has(tf.unit)) {
    // A bar is expected when it overlaps a session: from the bar holding the open to the bar
    // holding the last instant before the close.
    const len = addBars(tf, 0, 1);
    for (const s of cal.sessionsOverlapping(fromMs, toMs)) {
      const lo = Math.max(fromMs, alignDown(tf, s.openMs));
      const hi = Math.min(toMs, alignDown(tf, s.closeMs - 1) + len);
      if (lo < hi) add(lo, hi);
    }
  } else {
    for (let t = fromMs; t < toMs;) {
      const next = addBars(tf, t, 1);
      if (holdsTradingDay(cal, t, next)) add(t, next);
      t = next;
    }
  }
  // Runs hold only bars that should exist (Day, Week, Month runs are built bar by bar; intraday
  // runs merge only where sessions touch), so every bar of a run counts.
  return runs.map((r) => ({ ...r, missingBars: barsBetween(tf, r.fromMs, r.toMs) }));
}

/** Whether the bar open at `ms` should exist. */
export function expectsBar(cal: TradingCalendar, tf: Timeframe, ms: number): boolean {
  if (cal.alwaysOpen) return true;
  const next = addBars(tf, ms, 1);
  return INTRADAY.has(tf.unit) ? cal.overlapsSession(ms, next) : holdsTradingDay(cal, ms, next);
}

/** `findGaps`, trimmed to the bars that should exist. */
export function findCalendarGaps(
  cal: TradingCalendar,
  tf: Timeframe,
  afterMs: number | null,
  times: readonly number[],
): GapRange[] {
  const plain = findGaps(tf, afterMs, times);
  return cal.alwaysOpen ? plain : plain.flatMap((g) => expectedRuns(cal, tf, g));
}

/** `remainingGaps`, trimmed to the bars that should exist. */
export function remainingCalendarGaps(
  cal: TradingCalendar,
  tf: Timeframe,
  range: { fromMs: number; toMs: number },
  present: readonly number[],
): GapRange[] {
  const plain = remainingGaps(tf, range, present);
  return cal.alwaysOpen ? plain : plain.flatMap((g) => expectedRuns(cal, tf, g));
}

/** `fillsRange`: whether `times` hold every bar of `(afterMs, uptoMs]` that should exist. */
export function fillsCalendarRange(
  cal: TradingCalendar,
  tf: Timeframe,
  afterMs: number,
  uptoMs: number,
  times: readonly number[],
): boolean {
  if (cal.alwaysOpen) return fillsRange(tf, afterMs, uptoMs, times);
  const within = times.filter((t) => t > afterMs && t <= uptoMs);
  return within[within.length - 1] === uptoMs && findCalendarGaps(cal, tf, afterMs, within).length === 0;
}

function holdsTradingDay(cal: TradingCalendar, fromMs: number, toMs: number): boolean {
  for (let day = Math.floor(fromMs / DAY_MS) * DAY_MS; day < toMs; day += DAY_MS) {
    if (cal.isTradingDay(day)) return true;
  }
  return false;
}
