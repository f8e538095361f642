/**
 * A planned stream and the final state a clean run of it must leave, computed once, in memory,
 * from the plan alone. Every fault scenario and the chaos run compare what the real services hold
 * against this (see compare.ts), so "nothing lost, nothing duplicated" means one thing everywhere.
 *
 * The stream is cut into phases. A scenario publishes phase k+1 only once phase k is committed
 * (consumer lag 0), so what a phase changes is deterministic whatever the faults do to flushes:
 * a correction always lands on a stored bar (revision + 1), a late bar always lands in a gap
 * already reported. Within a phase every version of a bar is identical and a gap gets at most one
 * late bar; that keeps the expected gap rows independent of how flushes are cut. Pure: no I/O.
 */
import type { WireBar } from '../../../shared/domain/bar';
import { findGaps, GapKind, GapStatus, remainingGaps } from '../../../shared/domain/gaps';
import { parseTimeframe } from '../../../shared/domain/timeframe';

const M = 60_000;
const MINUTE = parseTimeframe('1-Min');

/** A deterministic PRNG (mulberry32): the same seed plans the same stream and the same faults. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One series, spelled canonically so the plan's key is the stored series' key. */
export interface PlannedSeries {
  symbol: string;
  venue: string;
}
export const seriesKeyOf = (s: { venue: string; symbol: string }): string => `Quantower|${s.venue}|${s.symbol}|1-Min`;

export type ConnectionStatusPlan = { venue: string; status: 'CONNECTED' | 'DISCONNECTED'; tsMs: number };

/** A message that must end in the dead-letter topic: a bar that fails validation, or raw bytes. */
export type Poison = { code: string; bar: WireBar } | { code: string; raw: string };

export type PlannedMessage = { bar: WireBar } | { poison: Poison };

export interface Phase {
  label: string;
  messages: PlannedMessage[];
  statuses: ConnectionStatusPlan[];
}

export interface StreamPlan {
  phases: Phase[];
  /** Counts for humans (the verdict line and the schedule print them). */
  summary: Record<string, number>;
}

export interface ExpectedBar {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  revision: number;
}

export interface ExpectedGap {
  series: string;
  /** The from of the range the gap was first reported with: its gap_id is gap-<series id>-<idFrom>. */
  idFrom: number;
  fromMs: number;
  toMs: number;
  missingBars: number;
  /** Bars of the detected range still missing (late bars reduce it; the range never changes). */
  remainingBars: number;
  kind: GapKind;
  status: GapStatus;
}

export interface ExpectedState {
  /** series key -> ts_utc ms -> the bar's final values and revision. */
  bars: Map<string, Map<number, ExpectedBar>>;
  /** `run_id series-key` */
  subscriptions: Set<string>;
  gaps: ExpectedGap[];
  /** Dead letters: the code each poison message must carry, by its bytes (base64) or bar. */
  deadLetters: Poison[];
  /** Messages published, all phases (bars and poison). */
  messages: number;
}

/** The wire bar of series `s` at minute `i` after `startMs`, with values a correction can change. */
export function planBar(s: PlannedSeries, startMs: number, i: number, run: string, bump = 0): WireBar {
  const base = 100 + i + (s.symbol.length % 7);
  return {
    symbol: s.symbol,
    timeframe: '1-Min',
    provider: 'Quantower',
    venue: s.venue,
    ts_utc: startMs + i * M,
    open: base,
    high: base + 2 + bump,
    low: base - 1,
    close: base + 1 + bump,
    volume: 10 + bump,
    run_id: run,
    source: 'LIVE',
    history_request_id: null,
  };
}

/** Sessions from status events: each starts at its time and ends at the next event of its venue. */
function sessionsOf(statuses: ConnectionStatusPlan[]) {
  const byVenue = new Map<string, ConnectionStatusPlan[]>();
  for (const s of statuses) byVenue.set(s.venue, [...(byVenue.get(s.venue) ?? []), s]);
  const out: Array<{ venue: string; status: string; from: number; to: number }> = [];
  for (const [venue, list] of byVenue) {
    const sorted = [...new Map(list.map((s) => [s.tsMs, s])).values()].sort((a, b) => a.tsMs - b.tsMs);
    sorted.forEach((s, i) =>
      out.push({ venue, status: s.status, from: s.tsMs, to: sorted[i + 1]?.tsMs ?? Number.POSITIVE_INFINITY }),
    );
  }
  return out;
}

/** The kind the workers give a gap once every status event is in (see GapStore.classify). */
function kindOf(venue: string, fromMs: number, toMs: number, sessions: ReturnType<typeof sessionsOf>): GapKind {
  const mine = sessions.filter((s) => s.venue === venue);
  if (mine.some((s) => s.status === 'DISCONNECTED' && s.from < toMs && s.to > fromMs)) return 'OFFLINE';
  if (mine.some((s) => s.status === 'CONNECTED' && s.from <= fromMs && s.to > fromMs)) return 'NO_ACTIVITY';
  return 'UNKNOWN';
}

/**
 * The final state of a clean run: phase by phase, bars take their last version (revision + 1 when
 * a later phase changes them), new bars past a series' last bar reveal gaps, late bars reduce what
 * is still missing of the gap they fall into, which keeps its detected range and count, and a gap
 * with nothing missing any more is FILLED.
 */
export function expectedState(plan: StreamPlan, options: { backfillKinds?: GapKind[] } = {}): ExpectedState {
  const bars = new Map<string, Map<number, ExpectedBar>>();
  const subscriptions = new Set<string>();
  const deadLetters: Poison[] = [];
  const gaps: ExpectedGap[] = [];
  const remainingOf = new Map<ExpectedGap, Array<{ fromMs: number; toMs: number; missingBars: number }>>();
  const statuses = plan.phases.flatMap((p) => p.statuses);
  let messages = 0;
  const venueOf = new Map<string, string>();

  for (const phase of plan.phases) {
    messages += phase.messages.length;
    const versions = new Map<string, Map<number, WireBar>>();
    for (const m of phase.messages) {
      if ('poison' in m) {
        deadLetters.push(m.poison);
        continue;
      }
      const key = seriesKeyOf({ venue: m.bar.venue!, symbol: m.bar.symbol });
      venueOf.set(key, m.bar.venue!);
      if (m.bar.run_id) subscriptions.add(`${m.bar.run_id} ${key}`);
      const perSeries = versions.get(key) ?? new Map<number, WireBar>();
      versions.set(key, perSeries);
      const seen = perSeries.get(m.bar.ts_utc);
      if (seen && !sameValues(seen, m.bar))
        throw new Error(`plan error: two versions of ${key} ${m.bar.ts_utc} in phase ${phase.label}`);
      perSeries.set(m.bar.ts_utc, m.bar);
    }
    for (const [key, perSeries] of versions) {
      const stored = bars.get(key) ?? new Map<number, ExpectedBar>();
      bars.set(key, stored);
      const lastBefore = stored.size > 0 ? Math.max(...stored.keys()) : null;
      const late: number[] = [];
      for (const [ts, bar] of perSeries) {
        const prev = stored.get(ts);
        if (lastBefore !== null && ts <= lastBefore && !prev) late.push(ts);
        if (!prev) stored.set(ts, { ...valuesOf(bar), revision: 0 });
        else if (!sameValues(prev, bar)) stored.set(ts, { ...valuesOf(bar), revision: prev.revision + 1 });
      }
      const newer = [...perSeries.keys()].filter((t) => lastBefore === null || t > lastBefore).sort((a, b) => a - b);
      for (const g of findGaps(MINUTE, lastBefore, newer))
        gaps.push({
          series: key,
          idFrom: g.fromMs,
          ...g,
          remainingBars: g.missingBars,
          kind: 'UNKNOWN',
          status: 'OPEN',
        });
      const lateByGap = new Map<ExpectedGap, number[]>();
      for (const ts of late) {
        const gap = gaps.find((g) => g.series === key && g.status === 'OPEN' && g.fromMs <= ts && g.toMs > ts);
        if (!gap) continue;
        lateByGap.set(gap, [...(lateByGap.get(gap) ?? []), ts]);
      }
      for (const [gap, times] of lateByGap) {
        if (times.length > 1)
          throw new Error(`plan error: ${times.length} late bars in one gap of ${key} in one phase`);
        // A gap keeps the range it was detected with; what is still missing is tracked beside it.
        const remaining = (remainingOf.get(gap) ?? [gap]).flatMap((piece) =>
          times.some((t) => piece.fromMs <= t && t < piece.toMs) ? remainingGaps(MINUTE, piece, times) : [piece],
        );
        remainingOf.set(gap, remaining);
        gap.remainingBars = remaining.reduce((n, r) => n + r.missingBars, 0);
        if (remaining.length === 0) gap.status = 'FILLED';
      }
    }
  }
  const sessions = sessionsOf(statuses);
  for (const g of gaps) {
    g.kind = kindOf(venueOf.get(g.series)!, g.fromMs, g.toMs, sessions);
    // A continuity worker asks for a backfill of these; nobody answers in these runs.
    if (g.status === 'OPEN' && options.backfillKinds?.includes(g.kind)) g.status = 'BACKFILL_REQUESTED';
  }
  return { bars, subscriptions, gaps, deadLetters, messages };
}

const valuesOf = (b: WireBar) => ({ open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume });
const sameValues = (a: Omit<ExpectedBar, 'revision'>, b: Omit<ExpectedBar, 'revision'>): boolean =>
  a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close && a.volume === b.volume;

export interface PlanOptions {
  seed: number;
  /** Series per venue; Binance has connection events (an outage), Coinbase none. */
  seriesPerVenue: number;
  /** Bars per series in the first live phase; the last phase adds a quarter more. */
  barsPerSeries: number;
  runs: number;
  /** Minutes ago the stream starts (bars must not be in the future). */
  startMinutesAgo?: number;
  /** Poison messages in the first phase. */
  poison?: number;
}

const SYMBOLS: Record<string, string[]> = {
  Binance: ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT', 'ADA/USDT', 'DOGE/USDT', 'LTC/USDT', 'DOT/USDT'],
  Coinbase: ['BTC/USD', 'ETH/USD', 'SOL/USD', 'LTC/USD'],
};

/**
 * The stream every scenario and the chaos run send: several runs sending the same bars, exact
 * duplicates, holes of 1 to 6 bars, an exporter outage (Binance disconnected: a hole in every
 * Binance series, with its status events), corrections, late bars (shrink, split, fill) and
 * poison messages, in three phases (live, corrections and late bars, more live and late bars).
 */
export function planStream(o: PlanOptions): StreamPlan {
  const rnd = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const n = o.barsPerSeries;
  const more = Math.max(8, Math.floor(n / 4));
  const start = Math.floor(Date.now() / M) * M - (o.startMinutesAgo ?? n + more + 30) * M;
  const series: PlannedSeries[] = [];
  for (const venue of ['Binance', 'Coinbase'])
    for (const symbol of SYMBOLS[venue]!.slice(
      0,
      venue === 'Binance' ? o.seriesPerVenue : Math.min(4, o.seriesPerVenue),
    ))
      series.push({ symbol, venue });
  const runs = Array.from({ length: o.runs }, (_, r) => `run-${r + 1}`);

  // Holes: per series, a few of 1-6 bars, apart from each other and from the ends.
  const holes = new Map<PlannedSeries, Array<[number, number]>>();
  const outage: [number, number] = [Math.floor(n * 0.6), Math.floor(n * 0.6) + 5];
  for (const s of series) {
    const list: Array<[number, number]> = s.venue === 'Binance' ? [outage] : [];
    const count = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < count; k++) {
      const len = 1 + Math.floor(rnd() * 6);
      const from = 5 + Math.floor(rnd() * (n - len - 10));
      if (list.some(([a, b]) => from < b + 3 && from + len + 3 > a)) continue;
      list.push([from, from + len]);
    }
    holes.set(s, list);
  }
  const missing = (s: PlannedSeries, i: number): boolean => holes.get(s)!.some(([a, b]) => i >= a && i < b);

  const live = (from: number, to: number, label: string, statuses: ConnectionStatusPlan[]): Phase => {
    const messages: PlannedMessage[] = [];
    for (let i = from; i < to; i++)
      for (const s of series) {
        if (missing(s, i)) continue;
        for (const run of runs) messages.push({ bar: planBar(s, start, i, run) });
        // An exact duplicate now and then (an exporter retrying a send).
        if (rnd() < 0.03) messages.push({ bar: planBar(s, start, i, runs[0]!) });
      }
    return { label, messages, statuses };
  };

  const phase1 = live(0, n, 'live', [
    { venue: 'Binance', status: 'CONNECTED', tsMs: start - 30 * M },
    { venue: 'Binance', status: 'DISCONNECTED', tsMs: start + outage[0] * M },
    { venue: 'Binance', status: 'CONNECTED', tsMs: start + outage[1] * M },
  ]);
  const poison = o.poison ?? 3;
  const poisons: Poison[] = [];
  for (let k = 0; k < poison; k++) {
    const s = pick(series);
    const i = Math.floor(rnd() * n);
    const kinds: Poison[] = [
      { code: 'INVALID_OHLC', bar: { ...planBar(s, start, i, 'run-1'), high: 1, low: 500 } },
      { code: 'UNKNOWN_VENUE', bar: { ...planBar(s, start, i, 'run-1'), venue: `NoSuchVenue${k}` } },
      { code: 'DECODE_FAILED', raw: Buffer.from(`not avro #${k} seed ${o.seed}`).toString('base64') },
    ];
    poisons.push(kinds[k % kinds.length]!);
  }
  for (const p of poisons) phase1.messages.splice(Math.floor(rnd() * phase1.messages.length), 0, { poison: p });

  // Late bars: at most one per detected gap per phase (see the module comment). A late bar inside a
  // hole splits what is missing of it in two pieces, but the gap keeps its detected range, so the
  // pieces of one hole still count as one gap: `origin` names the hole a piece came from.
  const origins = new Map<PlannedSeries, Array<[number, number, number]>>(
    [...holes].map(([s, list]) => [s, list.map(([a, b]): [number, number, number] => [a, b, a])]),
  );
  const lateBars = (): PlannedMessage[] => {
    const out: PlannedMessage[] = [];
    for (const s of series) {
      const lateIn = new Set<number>();
      for (const [a, b, origin] of origins.get(s)!) {
        if (rnd() < 0.5) continue;
        const i = a + Math.floor(rnd() * (b - a));
        // Drawn before the check so that plans which never had two were planned as before.
        if (lateIn.has(origin)) continue;
        lateIn.add(origin);
        out.push({ bar: planBar(s, start, i, pick(runs)) });
        // The hole no longer has that bar missing.
        const pieces = origins.get(s)!.flatMap(([x, y, o]): Array<[number, number, number]> =>
          x === a && y === b
            ? (
                [
                  [a, i, o],
                  [i + 1, b, o],
                ] as Array<[number, number, number]>
              ).filter(([p, q]) => q > p)
            : [[x, y, o]],
        );
        origins.set(s, pieces);
        holes.set(
          s,
          pieces.map(([x, y]): [number, number] => [x, y]),
        );
      }
    }
    return out;
  };
  const corrections = (bump: number): PlannedMessage[] => {
    const out: PlannedMessage[] = [];
    for (const s of series)
      for (let i = 0; i < n; i++)
        if (!missing(s, i) && rnd() < 0.02) out.push({ bar: planBar(s, start, i, runs[0]!, bump) });
    return out;
  };
  const corrected = corrections(0.5);
  const phase2: Phase = { label: 'corrections+late', messages: [...corrected, ...lateBars()], statuses: [] };
  // A third of phase 2's corrections are corrected again in phase 3: revision 2.
  const again = corrected
    .filter((_, k) => k % 3 === 0)
    .map((m) => ('bar' in m ? { bar: { ...m.bar, close: m.bar.close + 0.25, high: m.bar.high + 0.25 } } : m));
  const phase3 = live(n, n + more, 'more live+late', []);
  phase3.messages.push(...again, ...lateBars());
  const phases = [phase1, phase2, phase3];
  const all = phases.flatMap((p) => p.messages);
  return {
    phases,
    summary: {
      series: series.length,
      runs: runs.length,
      messages: all.length,
      poison: poisons.length,
      corrections: corrected.length + again.length,
      holes: [...holes.values()].reduce((a, h) => a + h.length, 0),
    },
  };
}
