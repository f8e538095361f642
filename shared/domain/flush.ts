import type { CanonicalBar } from './bar';

/** A bar accepted from the stream, with where it came from. */
export interface AcceptedBar {
  readonly bar: CanonicalBar;
  readonly seriesKey: string;
  /** Produce time of the message: later versions win, older ones never overwrite. */
  readonly versionMs: number;
}

/** One bar ready for the database. */
export interface BarRow {
  seriesId: number;
  tsMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  source: string;
  versionMs: number;
}

/** What a flush's write did: new rows, and rows whose values changed (corrections). */
export interface WriteResult {
  inserted: number;
  corrected: number;
}

/** The bar open times one strategy run saw in one series during a flush. */
export interface RunSpan {
  runId: string;
  seriesId: number;
  firstMs: number;
  lastMs: number;
}

export function accept(bar: CanonicalBar, versionMs: number): AcceptedBar {
  return { bar, seriesKey: bar.seriesKey, versionMs };
}

/**
 * Coalesces a flush: one row per (series, open time), the latest version winning and, between
 * equal versions, the one that arrived last (last by offset); and one span per (run, series) so
 * that every run that sent a bar is subscribed, even when its copy was a duplicate.
 */
export function planFlush(
  accepted: readonly AcceptedBar[],
  seriesIds: ReadonlyMap<string, number>,
): { rows: BarRow[]; runSpans: RunSpan[] } {
  // Keyed by number, then number (and run id, then number): no key string built per message.
  const rows = new Map<number, Map<number, BarRow>>();
  const spans = new Map<string, Map<number, RunSpan>>();
  for (const a of accepted) {
    const seriesId = seriesIds.get(a.seriesKey);
    if (seriesId === undefined) throw new Error(`series ${a.seriesKey} has no id: resolve series before planning`);
    const b = a.bar;
    let ofSeries = rows.get(seriesId);
    if (!ofSeries) rows.set(seriesId, (ofSeries = new Map()));
    const existing = ofSeries.get(b.tsMs);
    if (!existing || a.versionMs >= existing.versionMs) {
      ofSeries.set(b.tsMs, {
        seriesId,
        tsMs: b.tsMs,
        open: b.open,
        high: b.high,
        low: b.low,
        close: b.close,
        volume: b.volume,
        source: b.source,
        versionMs: a.versionMs,
      });
    }
    if (b.runId !== null) {
      let ofRun = spans.get(b.runId);
      if (!ofRun) spans.set(b.runId, (ofRun = new Map()));
      const span = ofRun.get(seriesId);
      if (!span) ofRun.set(seriesId, { runId: b.runId, seriesId, firstMs: b.tsMs, lastMs: b.tsMs });
      else {
        if (b.tsMs < span.firstMs) span.firstMs = b.tsMs;
        if (b.tsMs > span.lastMs) span.lastMs = b.tsMs;
      }
    }
  }
  const flatRows: BarRow[] = [];
  for (const ofSeries of rows.values()) for (const row of ofSeries.values()) flatRows.push(row);
  const flatSpans: RunSpan[] = [];
  for (const ofRun of spans.values()) for (const span of ofRun.values()) flatSpans.push(span);
  return { rows: flatRows, runSpans: flatSpans };
}
