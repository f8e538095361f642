/**
 * The demo's story of gaps, told by the reference exporter: an outage at Binance (DISCONNECTED,
 * bars withheld, CONNECTED again) that becomes OFFLINE gaps, a quiet stretch at Coinbase while
 * connected that becomes a NO_ACTIVITY gap, a hole at Kraken with no connection information
 * (UNKNOWN), and the exporter's history, which has some of the missing bars and not others. Two
 * extra strategy runs see only part of it, so run verdicts differ.
 */
import type { WireBar } from '../shared/domain/bar';
import { alignDown, parseTimeframe } from '../shared/domain/timeframe';
import { barAt, DEMO_SERIES } from './generate';
import type { HistoryLookup } from './history';

export interface StoryHole {
  /** Index into DEMO_SERIES. */
  series: number;
  /** Canonical symbol and venue, as a HistoryRequest names the series. */
  symbol: string;
  venue: string;
  /** Withheld bars: indexes [fromBar, toBar) of the plan. */
  fromBar: number;
  toBar: number;
  /** What the exporter's history holds for the hole. */
  history: 'all' | 'none';
  /** What the demo expects to see, for its summary. */
  expect: string;
}

export const STORY_HOLES: StoryHole[] = [
  {
    series: 0,
    symbol: 'BTC/USDT',
    venue: 'Binance',
    fromBar: 150,
    toBar: 170,
    history: 'all',
    expect: 'OFFLINE, FILLED by history',
  },
  {
    series: 1,
    symbol: 'ETH/USDT',
    venue: 'Binance',
    fromBar: 150,
    toBar: 170,
    history: 'none',
    expect: 'OFFLINE, NO_DATA',
  },
  {
    series: 2,
    symbol: 'BTC/USD',
    venue: 'Binance',
    fromBar: 150,
    toBar: 170,
    history: 'all',
    expect: 'OFFLINE, FILLED by history',
  },
  {
    series: 3,
    symbol: 'BTC/USD',
    venue: 'Coinbase',
    fromBar: 90,
    toBar: 105,
    history: 'none',
    expect: 'NO_ACTIVITY, still OPEN (not backfilled)',
  },
  {
    series: 4,
    symbol: 'BTC/USD',
    venue: 'Kraken',
    fromBar: 200,
    toBar: 205,
    history: 'all',
    expect: 'UNKNOWN, FILLED by history',
  },
];

/** The Binance outage: disconnected while the withheld bars would have come. */
export const OUTAGE = { venue: 'Binance', fromBar: 150, toBar: 170 };

export interface ConnectionEvent {
  provider: string;
  venue: string;
  status: 'CONNECTED' | 'DISCONNECTED';
  ts_utc: number;
  reason: string | null;
}

export interface Story {
  /** Every bar to publish: the plan's runs minus the withheld bars, plus the two story runs. */
  bars: WireBar[];
  distinct: number;
  /** Connection status events, to be recorded before the bars arrive. */
  statuses: ConnectionEvent[];
  /** The exporter's history for the withheld bars; null (no answer) for anything else. */
  history: HistoryLookup;
  holes: StoryHole[];
  /** Open time of bar `i` of each demo series. */
  startMs: number[];
}

const withheld = (series: number, i: number): boolean =>
  STORY_HOLES.some((h) => h.series === series && i >= h.fromBar && i < h.toBar);

export function storyPlan(barsPerSeries: number, runs: number, nowMs: number): Story {
  const startMs = DEMO_SERIES.map((s) => {
    const last = alignDown(parseTimeframe(s.timeframe), nowMs) - s.stepMs;
    return last - (barsPerSeries - 1) * s.stepMs;
  });
  const bars: WireBar[] = [];
  let distinct = 0;
  const send = (s: number, from: number, to: number, runId: string): void => {
    for (let i = from; i < Math.min(to, barsPerSeries); i++) {
      if (!withheld(s, i)) bars.push({ ...barAt(DEMO_SERIES[s]!, s, startMs[s]!, i), run_id: runId });
    }
  };
  DEMO_SERIES.forEach((_, s) => {
    for (let run = 1; run <= runs; run++) send(s, 0, barsPerSeries, `demo-run-${run}`);
    for (let i = 0; i < barsPerSeries; i++) if (!withheld(s, i)) distinct++;
  });
  // A run that stopped before the outage (clean), and one that traded BTC/USDT through it (filled).
  send(0, 0, OUTAGE.fromBar - 30, 'demo-run-early');
  send(6, 0, 40, 'demo-run-early');
  send(0, 0, barsPerSeries, 'demo-run-btc');

  const at = (s: number, i: number): number => startMs[s]! + i * DEMO_SERIES[s]!.stepMs;
  const status = (venue: string, s: 'CONNECTED' | 'DISCONNECTED', ts: number, reason: string): ConnectionEvent => ({
    provider: 'Quantower',
    venue,
    status: s,
    ts_utc: ts,
    reason,
  });
  const statuses = [
    status('Binance', 'CONNECTED', at(0, 0) - 60_000, 'demo: session start'),
    status('Binance', 'DISCONNECTED', at(0, OUTAGE.fromBar), 'demo: network outage'),
    status('Binance', 'CONNECTED', at(0, OUTAGE.toBar), 'demo: reconnected'),
    status('Coinbase', 'CONNECTED', at(3, 0) - 60_000, 'demo: session start'),
  ];

  const history: HistoryLookup = (req) => {
    const hole = STORY_HOLES.find((h) => h.venue === req.series.venue && h.symbol === req.series.symbol);
    if (!hole) return null;
    const s = hole.series;
    // Only this run's hole: a request left over from an earlier demo run goes unanswered.
    if (req.from_utc < at(s, hole.fromBar) || req.to_utc > at(s, hole.toBar)) return null;
    if (hole.history === 'none') return [];
    const out: WireBar[] = [];
    for (let i = hole.fromBar; i < hole.toBar; i++) {
      const bar = barAt(DEMO_SERIES[s]!, s, startMs[s]!, i);
      if (bar.ts_utc >= req.from_utc && bar.ts_utc < req.to_utc) out.push(bar);
    }
    return out;
  };
  return { bars, distinct, statuses, history, holes: STORY_HOLES, startMs };
}
