/**
 * The read API's answers, shaped as JSON (UTC ISO times, snake_case like the rest of the project's
 * JSON), built from the read model. Shared by the HTTP routes, the page and the one-file HTML
 * export of `make coverage`, so all three show the same thing.
 */
import { addBars, parseTimeframe } from '../domain/timeframe';
import { coveredIntervals, Interval, seriesSpan, tallyGaps, Verdict, worstVerdict } from '../domain/coverage';
import type { OfflinePeriod, ReadModel, SeriesRow, StoredGapView } from '../adapters/read-model';
import type { GapKind, GapStatus } from '../domain/gaps';
import { seriesKey } from '../domain/series';

export const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** A request for something that is not there: the route answers 404 with this code. */
export class NotFoundError extends Error {
  constructor(
    readonly code: 'SERIES_NOT_FOUND' | 'RUN_NOT_FOUND',
    message: string,
  ) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export interface SeriesJson {
  id: number;
  key: string;
  provider: string;
  venue: string;
  symbol: string;
  timeframe: string;
  first_bar: string | null;
  last_bar: string | null;
}

export interface GapJson {
  gap_id: string;
  series_id: number;
  from: string;
  to: string;
  missing_bars: number;
  kind: GapKind;
  status: GapStatus;
  backfill_requests: number;
  response_status: string | null;
  detected_at: string;
  updated_at: string;
}

export interface IntervalJson {
  from: string;
  to: string;
}

export interface TallyJson {
  total: number;
  by_status: Record<GapStatus, number>;
  by_kind: Record<GapKind, number>;
  missing_bars: number;
  verdict: Verdict;
}

/** One series over one range: what the timeline draws as one lane. */
export interface LaneJson {
  series: SeriesJson;
  range: IntervalJson;
  covered: Array<IntervalJson & { bars: number }>;
  gaps: GapJson[];
  offline: Array<IntervalJson & { ongoing: boolean }>;
  summary: TallyJson;
}

export interface ReadinessJson {
  run: { id: string; created_at: string };
  window: IntervalJson | null;
  verdict: Verdict;
  summary: TallyJson;
  series: LaneJson[];
}

export function seriesJson(s: SeriesRow): SeriesJson {
  return {
    id: s.id,
    key: seriesKey(s),
    provider: s.provider,
    venue: s.venue,
    symbol: s.symbol,
    timeframe: s.timeframe,
    first_bar: isoOrNull(s.firstBarMs),
    last_bar: isoOrNull(s.lastBarMs),
  };
}

export function gapJson(g: StoredGapView): GapJson {
  return {
    gap_id: g.gapId,
    series_id: g.seriesId,
    from: iso(g.fromMs),
    to: iso(g.toMs),
    missing_bars: g.missingBars,
    kind: g.kind,
    status: g.status,
    backfill_requests: g.attempts,
    response_status: g.responseStatus,
    detected_at: iso(g.detectedAtMs),
    updated_at: iso(g.updatedAtMs),
  };
}

function tallyJson(gaps: StoredGapView[]): TallyJson {
  const t = tallyGaps(gaps);
  return { total: t.total, by_status: t.byStatus, by_kind: t.byKind, missing_bars: t.missingBars, verdict: t.verdict };
}

function lane(series: SeriesRow, range: Interval, gaps: StoredGapView[], offline: OfflinePeriod[]): LaneJson {
  const tf = parseTimeframe(series.timeframe);
  return {
    series: seriesJson(series),
    range: { from: iso(range.fromMs), to: iso(range.toMs) },
    covered: coveredIntervals(tf, seriesSpan(tf, series.firstBarMs, series.lastBarMs), gaps, range).map((c) => ({
      from: iso(c.fromMs),
      to: iso(c.toMs),
      bars: c.bars,
    })),
    gaps: gaps.map(gapJson),
    offline: offline
      .filter((o) => o.provider === series.provider && o.venue === series.venue)
      .filter((o) => o.fromMs < range.toMs && o.toMs > range.fromMs)
      .map((o) => ({
        from: iso(Math.max(o.fromMs, range.fromMs)),
        to: iso(Math.min(o.toMs, range.toMs)),
        ongoing: o.ongoing,
      })),
    summary: tallyJson(gaps),
  };
}

/**
 * One series' coverage over [fromMs, toMs); by default from its first bar to one bar after its
 * last (an empty series: the last day).
 */
export async function seriesCoverage(
  model: ReadModel,
  seriesId: number,
  asked: { fromMs?: number | undefined; toMs?: number | undefined } = {},
): Promise<LaneJson> {
  const series = await model.series(seriesId);
  if (!series) throw new NotFoundError('SERIES_NOT_FOUND', `no series with id ${seriesId}`);
  const tf = parseTimeframe(series.timeframe);
  const now = Date.now();
  const toMs = asked.toMs ?? (series.lastBarMs === null ? now : addBars(tf, series.lastBarMs, 1));
  const fromMs = asked.fromMs ?? series.firstBarMs ?? toMs - 86_400_000;
  const range = { fromMs, toMs: Math.max(toMs, fromMs) };
  const [gaps, offline] = await Promise.all([model.gapsOfSeries(seriesId, range), model.offline([series], range)]);
  return lane(series, range, gaps, offline);
}

/**
 * A strategy run's readiness: each series it subscribed to over the window it saw that series
 * (first to last bar it sent), every gap inside, and the verdict (worst over its series).
 */
export async function runReadiness(model: ReadModel, runId: string): Promise<ReadinessJson> {
  const run = await model.run(runId);
  if (!run) throw new NotFoundError('RUN_NOT_FOUND', `no strategy run ${JSON.stringify(runId)}`);
  const [subs, gaps] = await Promise.all([model.runSubscriptions(runId), model.runGaps(runId)]);
  const windows = subs.map((s) => ({
    fromMs: s.firstSeenMs,
    toMs: addBars(parseTimeframe(s.timeframe), s.lastSeenMs, 1),
  }));
  const window =
    windows.length === 0
      ? null
      : { fromMs: Math.min(...windows.map((w) => w.fromMs)), toMs: Math.max(...windows.map((w) => w.toMs)) };
  const pairs = [...new Map(subs.map((s) => [`${s.provider}|${s.venue}`, s])).values()];
  const offline = window ? await model.offline(pairs, window) : [];
  const lanes = subs.map((s, i) =>
    lane(
      s,
      windows[i]!,
      gaps.filter((g) => g.seriesId === s.id),
      offline,
    ),
  );
  return {
    run: { id: run.id, created_at: iso(run.createdAtMs) },
    window: window ? { from: iso(window.fromMs), to: iso(window.toMs) } : null,
    verdict: worstVerdict(lanes.map((l) => l.summary.verdict)),
    summary: tallyJson(gaps),
    series: lanes,
  };
}
