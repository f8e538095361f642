import { RejectError } from './errors';

/** Canonical units, smallest first. */
export const UNITS = ['Sec', 'Min', 'Hour', 'Day', 'Week', 'Month'] as const;
export type Unit = (typeof UNITS)[number];

export interface Timeframe {
  readonly count: number;
  readonly unit: Unit;
}

const UNIT_SPELLINGS: Record<string, Unit> = {
  s: 'Sec',
  sec: 'Sec',
  secs: 'Sec',
  second: 'Sec',
  seconds: 'Sec',
  m: 'Min',
  min: 'Min',
  mins: 'Min',
  minute: 'Min',
  minutes: 'Min',
  t: 'Min',
  h: 'Hour',
  hr: 'Hour',
  hrs: 'Hour',
  hour: 'Hour',
  hours: 'Hour',
  d: 'Day',
  day: 'Day',
  days: 'Day',
  w: 'Week',
  wk: 'Week',
  week: 'Week',
  weeks: 'Week',
  mo: 'Month',
  mon: 'Month',
  mn: 'Month',
  month: 'Month',
  months: 'Month',
};

const MS: Record<'Sec' | 'Min' | 'Hour' | 'Day' | 'Week', number> = {
  Sec: 1_000,
  Min: 60_000,
  Hour: 3_600_000,
  Day: 86_400_000,
  Week: 604_800_000,
};

/** Longest accepted timeframe text; anything longer is not a timeframe. */
const MAX_TEXT = 24;

function unitOf(spelling: string): Unit | undefined {
  // Upper-case `M` alone means month (as in `1M`, the common exchange spelling), lower-case minute.
  if (spelling === 'M') return 'Month';
  return UNIT_SPELLINGS[spelling.toLowerCase()];
}

/**
 * Parses the spellings exporters use (`1m`, `1min`, `M1`, `60s`, `1-Min`, `H1`, `1h`, `MN1`, `1M`)
 * and returns the canonical timeframe: the largest unit that expresses it exactly, so `60s` and
 * `1-Min` are one series. Days are never promoted to weeks: a 7-day bar is aligned to the epoch,
 * a week bar to Monday, and those are different bars.
 */
export function parseTimeframe(raw: string): Timeframe {
  const text = raw.trim();
  if (text.length === 0 || text.length > MAX_TEXT) {
    throw new RejectError('INVALID_TIMEFRAME', `timeframe ${JSON.stringify(raw)} is empty or too long`);
  }
  // `<n><unit>`, `<n>-<unit>`, `<n> <unit>` or MetaTrader's `<unit><n>` (M1, H4, D1, W1, MN1).
  const countFirst = /^(\d+)\s*[-_ ]?\s*([A-Za-z]+)$/.exec(text);
  const unitFirst = /^([A-Za-z]+)(\d+)$/.exec(text);
  let count: number;
  let unit: Unit | undefined;
  if (countFirst) {
    count = Number(countFirst[1]);
    unit = unitOf(countFirst[2]!);
  } else if (unitFirst) {
    count = Number(unitFirst[2]);
    const spelling = unitFirst[1]!.toUpperCase();
    // In the unit-first form M is minute (MetaTrader's M1) and MN is month.
    unit = spelling === 'M' ? 'Min' : unitOf(spelling);
  } else {
    throw new RejectError('INVALID_TIMEFRAME', `timeframe ${JSON.stringify(raw)} is not <count><unit>`);
  }
  if (!unit) throw new RejectError('INVALID_TIMEFRAME', `timeframe ${JSON.stringify(raw)} has an unknown unit`);
  if (!Number.isSafeInteger(count) || count <= 0) {
    throw new RejectError('INVALID_TIMEFRAME', `timeframe ${JSON.stringify(raw)} needs a positive count`);
  }
  return promote({ count, unit });
}

function promote(tf: Timeframe): Timeframe {
  let { count, unit } = tf;
  if (unit === 'Sec' && count % 60 === 0) [count, unit] = [count / 60, 'Min'];
  if (unit === 'Min' && count % 60 === 0) [count, unit] = [count / 60, 'Hour'];
  if (unit === 'Hour' && count % 24 === 0) [count, unit] = [count / 24, 'Day'];
  return { count, unit };
}

export function formatTimeframe(tf: Timeframe): string {
  return `${tf.count}-${tf.unit}`;
}

export function normalizeTimeframe(raw: string): string {
  return formatTimeframe(parseTimeframe(raw));
}

/** Monday 1970-01-05T00:00Z: week bars open on Mondays, UTC. */
const EPOCH_MONDAY_MS = 4 * MS.Day;

function monthIndex(ms: number): number {
  const d = new Date(ms);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

function monthStart(index: number): number {
  return Date.UTC(Math.floor(index / 12), index % 12, 1);
}

/** The open time of the bar that contains `ms`. */
export function alignDown(tf: Timeframe, ms: number): number {
  if (tf.unit === 'Month') {
    const idx = monthIndex(ms);
    return monthStart(idx - (((idx % tf.count) + tf.count) % tf.count));
  }
  const step = MS[tf.unit] * tf.count;
  const origin = tf.unit === 'Week' ? EPOCH_MONDAY_MS : 0;
  return Math.floor((ms - origin) / step) * step + origin;
}

export function isAligned(tf: Timeframe, ms: number): boolean {
  return alignDown(tf, ms) === ms;
}

/** Open time `n` bars after the aligned open time `ms` (calendar arithmetic for months). */
export function addBars(tf: Timeframe, ms: number, n: number): number {
  if (tf.unit === 'Month') return monthStart(monthIndex(ms) + n * tf.count);
  return ms + n * MS[tf.unit] * tf.count;
}

/** How many bar open times lie in [fromMs, toMs), both aligned. */
export function barsBetween(tf: Timeframe, fromMs: number, toMs: number): number {
  if (toMs <= fromMs) return 0;
  if (tf.unit === 'Month') return Math.round((monthIndex(toMs) - monthIndex(fromMs)) / tf.count);
  return Math.round((toMs - fromMs) / (MS[tf.unit] * tf.count));
}
