import type { Knex } from 'knex';
import { GapFill, GapKind, GapRange, GapStatus, gapId, sameRanges } from '../domain/gaps';
import { EPOCH_MS as TS, msOf as MS } from './sql';

/**
 * A gap as detected (`fromMs`, `toMs`, `missingBars`, `detectedAtMs`: never change) and what is
 * still missing of it now (`remaining`, `remainingBars`; `filledAtMs`, `filledBy` once nothing is).
 */
export interface StoredGap {
  gapId: string;
  seriesId: number;
  fromMs: number;
  toMs: number;
  missingBars: number;
  remainingBars: number;
  remaining: GapRange[];
  kind: GapKind;
  status: GapStatus;
  detectedAtMs: number;
  updatedAtMs: number;
  filledAtMs: number | null;
  filledBy: GapFill | null;
  publishedVersion: number;
  eventVersion: number;
  symbol: string;
  timeframe: string;
  provider: string;
  venue: string;
}

/**
 * Gaps not FILLED (as og) whose detected range contains any of the bars bound as (series id[],
 * open time ms[]). NO_DATA and UNFILLABLE are included: bars that arrive after a gap was settled
 * still fill it.
 */
const OPEN_GAPS_CONTAINING = `FROM data_gaps og JOIN unnest(?::bigint[], ?::bigint[]) AS v(id, ts_ms) ON og.series_id = v.id
  WHERE og.status <> 'FILLED' AND og.from_utc <= ${TS} v.ts_ms AND og.to_utc > ${TS} v.ts_ms`;

/**
 * A gap's kind from the connection sessions of its series' (alias `s`) provider and venue: OFFLINE
 * when a disconnected period overlaps [from, to), NO_ACTIVITY when a connected period covers its
 * start, UNKNOWN otherwise.
 */
function kindOf(s: string, from: string, to: string): string {
  return `CASE WHEN EXISTS (SELECT 1 FROM connection_sessions cs
                             WHERE cs.provider = ${s}.provider AND cs.venue = ${s}.venue
                               AND cs.status = 'DISCONNECTED' AND cs.from_utc < ${to}
                               AND (cs.to_utc IS NULL OR cs.to_utc > ${from})) THEN 'OFFLINE'
               WHEN EXISTS (SELECT 1 FROM connection_sessions cs
                             WHERE cs.provider = ${s}.provider AND cs.venue = ${s}.venue
                               AND cs.status = 'CONNECTED' AND cs.from_utc <= ${from}
                               AND (cs.to_utc IS NULL OR cs.to_utc > ${from})) THEN 'NO_ACTIVITY'
               ELSE 'UNKNOWN' END`;
}

/** How the bars of a gap's range arrived: all from history answers, none, or some. */
const FILLED_BY = `(SELECT CASE WHEN bool_and(b.source = 'HISTORY') THEN 'HISTORY'
                                WHEN bool_or(b.source = 'HISTORY') THEN 'MIXED' ELSE 'LIVE' END
                     FROM market_bars b WHERE b.series_id = data_gaps.series_id
                      AND b.ts_utc >= data_gaps.from_utc AND b.ts_utc < data_gaps.to_utc)`;

/** data_gaps and the bar lookups gap detection needs, all set-based. */
export class GapStore {
  constructor(private readonly knex: Knex) {}

  /** The last stored bar before `beforeMs`, per series: continuity state rebuilt from PostgreSQL. */
  async lastBarsBefore(entries: Array<{ seriesId: number; beforeMs: number }>): Promise<Map<number, number | null>> {
    const out = new Map<number, number | null>();
    if (entries.length === 0) return out;
    const { rows } = await this.knex.raw<{ rows: Array<{ id: string; last_ms: string | null }> }>(
      `SELECT v.id, (SELECT ${MS('max(b.ts_utc)')} FROM market_bars b
                      WHERE b.series_id = v.id AND b.ts_utc < ${TS} v.before_ms) AS last_ms
         FROM unnest(?::bigint[], ?::bigint[]) AS v(id, before_ms)`,
      [entries.map((e) => e.seriesId), entries.map((e) => e.beforeMs)],
    );
    for (const r of rows) out.set(Number(r.id), r.last_ms === null ? null : Number(r.last_ms));
    return out;
  }

  /** Stored bar open times in each `(afterMs, uptoMs]` (or `(-inf, uptoMs]`), sorted. */
  async barTimes(
    ranges: Array<{ seriesId: number; afterMs: number | null; uptoMs: number }>,
    trx: Knex | Knex.Transaction = this.knex,
  ): Promise<number[][]> {
    const out: number[][] = ranges.map(() => []);
    if (ranges.length === 0) return out;
    const { rows } = await trx.raw<{ rows: Array<{ idx: number; ts_ms: string }> }>(
      `SELECT v.idx, ${MS('b.ts_utc')} AS ts_ms
         FROM unnest(?::int[], ?::bigint[], ?::bigint[], ?::bigint[]) AS v(idx, id, after_ms, upto_ms)
         JOIN market_bars b ON b.series_id = v.id
              -- Both bounds as plain comparisons (no OR): the index scan starts at after_ms instead of
              -- filtering the series' whole history, and only the partitions of the range are read.
              AND b.ts_utc > coalesce(${TS} v.after_ms, '-infinity') AND b.ts_utc <= ${TS} v.upto_ms
        ORDER BY v.idx, b.ts_utc`,
      [
        ranges.map((_, i) => i),
        ranges.map((r) => r.seriesId),
        // pg binds null array elements as SQL NULL; knex's types just do not say so.
        ranges.map((r) => r.afterMs) as unknown as number[],
        ranges.map((r) => r.uptoMs),
      ],
    );
    for (const r of rows) out[r.idx]!.push(Number(r.ts_ms));
    return out;
  }

  /**
   * Inserts the gaps that are not there yet (deterministic ids), classified against the
   * exporter's connection sessions; returns the ids that were new.
   */
  async insertGaps(
    gaps: Array<GapRange & { seriesId: number; detectedAtMs?: number }>,
    trx: Knex | Knex.Transaction = this.knex,
  ): Promise<string[]> {
    if (gaps.length === 0) return [];
    // Classified as it is inserted: its first event (version 1, OPEN) already has its kind.
    const { rows } = await trx.raw<{ rows: Array<{ gap_id: string }> }>(
      `INSERT INTO data_gaps (gap_id, series_id, from_utc, to_utc, missing_bars, kind, remaining_bars, remaining, detected_at)
       SELECT v.gap_id, v.series_id, ${TS} v.from_ms, ${TS} v.to_ms, v.missing,
              ${kindOf('s', `${TS} v.from_ms`, `${TS} v.to_ms`)}, v.missing,
              jsonb_build_array(jsonb_build_object('from_ms', v.from_ms, 'to_ms', v.to_ms, 'missing_bars', v.missing)),
              coalesce(${TS} v.detected_ms, now())
         FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::int[], ?::bigint[])
           AS v(gap_id, series_id, from_ms, to_ms, missing, detected_ms)
         JOIN market_series s ON s.id = v.series_id
        ORDER BY v.gap_id
       ON CONFLICT (gap_id) DO NOTHING
       RETURNING gap_id`,
      [
        gaps.map((g) => gapId(g.seriesId, g.fromMs)),
        gaps.map((g) => g.seriesId),
        gaps.map((g) => g.fromMs),
        gaps.map((g) => g.toMs),
        gaps.map((g) => g.missingBars),
        // pg binds null array elements as SQL NULL; knex's types just do not say so.
        gaps.map((g) => g.detectedAtMs ?? null) as unknown as number[],
      ],
    );
    return rows.map((r) => r.gap_id);
  }

  /**
   * Sets each gap's kind from the connection sessions of its provider and venue: OFFLINE when a
   * disconnected period overlaps it, NO_ACTIVITY when connected throughout, UNKNOWN otherwise.
   * A changed kind is a new DataGap event. Returns how many gaps changed.
   */
  async classify(
    trx: Knex | Knex.Transaction,
    which: { gapIds: string[] } | { provider: string; venue: string },
  ): Promise<number> {
    if ('gapIds' in which && which.gapIds.length === 0) return 0;
    const filter = 'gapIds' in which ? 'g2.gap_id = ANY(?::text[])' : 's.provider = ? AND s.venue = ?';
    const bindings = 'gapIds' in which ? [which.gapIds] : [which.provider, which.venue];
    const { rowCount } = await trx.raw<{ rowCount: number }>(
      `UPDATE data_gaps g SET kind = c.kind, event_version = g.event_version + 1, updated_at = now()
         FROM (SELECT g2.gap_id, ${kindOf('s', 'g2.from_utc', 'g2.to_utc')} AS kind
                 FROM data_gaps g2 JOIN market_series s ON s.id = g2.series_id
                WHERE ${filter}) c
        WHERE g.gap_id = c.gap_id AND g.kind <> c.kind`,
      bindings,
    );
    return rowCount;
  }

  async byIds(trx: Knex | Knex.Transaction, gapIds: string[]): Promise<StoredGap[]> {
    if (gapIds.length === 0) return [];
    const { rows } = await trx.raw<{ rows: GapRow[] }>(
      `${SELECT_GAP} WHERE g.gap_id = ANY(?::text[]) ORDER BY g.gap_id`,
      [gapIds],
    );
    return rows.map(toGap);
  }

  /** Whether any open gap contains one of `bars`: a lock-free look before the locking read. */
  async anyOpenGapContains(bars: Array<{ seriesId: number; tsMs: number }>): Promise<boolean> {
    if (bars.length === 0) return false;
    const { rows } = await this.knex.raw<{ rows: Array<{ found: boolean }> }>(
      `SELECT EXISTS (SELECT 1 ${OPEN_GAPS_CONTAINING}) AS found`,
      [bars.map((b) => b.seriesId), bars.map((b) => b.tsMs)],
    );
    return rows[0]!.found;
  }

  /** Gaps not FILLED (locked) of these series whose detected range contains any of the given bar times. */
  async openGapsContaining(
    trx: Knex.Transaction,
    bars: Array<{ seriesId: number; tsMs: number }>,
  ): Promise<StoredGap[]> {
    if (bars.length === 0) return [];
    const { rows } = await trx.raw<{ rows: GapRow[] }>(
      `${SELECT_GAP} WHERE g.gap_id IN (SELECT DISTINCT og.gap_id ${OPEN_GAPS_CONTAINING})
        ORDER BY g.gap_id FOR UPDATE OF g`,
      [bars.map((b) => b.seriesId), bars.map((b) => b.tsMs)],
    );
    return rows.map(toGap);
  }

  /**
   * Records what is still missing of a gap (its detected range, count and time never change once
   * reported): the remaining pieces, or FILLED with when and how once nothing is. Returns whether
   * anything changed (each change is one DataGap event).
   *
   * Inside the grace period a gap is not reported yet and its range is provisional: bars of a
   * briefly reordered stream are still arriving. Then it is replaced by what is still missing of
   * it (deterministic ids from their first missing bar, same detection time), or deleted when
   * nothing is: a reordered stream, not a gap. The test is the gap's age, not whether its event
   * went out yet, so the outcome does not depend on how fast the outbox ran.
   */
  async track(trx: Knex.Transaction, gap: StoredGap, remaining: GapRange[], graceMs: number): Promise<boolean> {
    if (sameRanges(remaining, gap.remaining)) return false;
    if (graceMs > 0 && gap.publishedVersion === 0) {
      const { rowCount } = await trx.raw<{ rowCount: number }>(
        `DELETE FROM data_gaps
          WHERE gap_id = ? AND published_version = 0 AND detected_at > now() - ? * interval '1 millisecond'`,
        [gap.gapId, graceMs],
      );
      if (rowCount > 0) {
        await this.insertGaps(
          remaining.map((r) => ({ ...r, seriesId: gap.seriesId, detectedAtMs: gap.detectedAtMs })),
          trx,
        );
        return true;
      }
    }
    if (remaining.length === 0) {
      await trx.raw(
        `UPDATE data_gaps SET status = 'FILLED', remaining_bars = 0, remaining = '[]'::jsonb, filled_at = now(),
                filled_by = ${FILLED_BY}, next_request_at = NULL, updated_at = now(),
                event_version = event_version + 1
          WHERE gap_id = ?`,
        [gap.gapId],
      );
      return true;
    }
    await trx.raw(
      `UPDATE data_gaps SET remaining_bars = ?, remaining = ?::jsonb, updated_at = now(),
              event_version = event_version + 1
        WHERE gap_id = ?`,
      [remaining.reduce((n, r) => n + r.missingBars, 0), JSON.stringify(remaining.map(toPiece)), gap.gapId],
    );
    return true;
  }

  /**
   * Gaps whose latest state has not been published yet, locked so that concurrent workers never
   * publish the same one; new gaps only once they are older than the grace period.
   */
  async dueEvents(trx: Knex.Transaction, graceMs: number, limit: number): Promise<StoredGap[]> {
    const { rows } = await trx.raw<{ rows: GapRow[] }>(
      `${SELECT_GAP}
        WHERE g.event_version > g.published_version
          AND (g.published_version > 0 OR g.detected_at <= now() - ? * interval '1 millisecond')
        ORDER BY g.detected_at, g.gap_id
        LIMIT ? FOR UPDATE OF g SKIP LOCKED`,
      [graceMs, limit],
    );
    return rows.map(toGap);
  }

  /** Gap changes the broker has not acknowledged yet (a metric: the outbox's backlog). */
  async unpublishedCount(): Promise<number> {
    const { rows } = await this.knex.raw<{ rows: Array<{ n: string }> }>(
      'SELECT count(*) AS n FROM data_gap_events WHERE published_at IS NULL',
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * The unpublished changes of these gaps, each as the gap's state right after it, oldest first
   * per gap (so OPEN always comes before any later status), gaps in detection order.
   */
  async unpublishedEvents(trx: Knex.Transaction, gapIds: string[]): Promise<StoredGap[]> {
    if (gapIds.length === 0) return [];
    const { rows } = await trx.raw<{ rows: GapRow[] }>(
      `SELECT ${GAP_COLUMNS}
         FROM data_gap_events e CROSS JOIN LATERAL jsonb_populate_record(NULL::data_gaps, e.state) g
         JOIN market_series s ON s.id = g.series_id
        WHERE e.gap_id = ANY(?::text[]) AND e.published_at IS NULL
        ORDER BY g.detected_at, g.gap_id, e.version`,
      [gapIds],
    );
    return rows.map(toGap);
  }

  /** Marks the published changes, and each gap's row as published up to its latest one. */
  async markPublished(trx: Knex.Transaction, gaps: StoredGap[], events: StoredGap[]): Promise<void> {
    if (gaps.length === 0) return;
    if (events.length > 0) {
      await trx.raw(
        `UPDATE data_gap_events e SET published_at = now()
           FROM unnest(?::text[], ?::int[]) AS v(gap_id, version)
          WHERE e.gap_id = v.gap_id AND e.version = v.version`,
        [events.map((g) => g.gapId), events.map((g) => g.eventVersion)],
      );
    }
    await trx.raw(
      `UPDATE data_gaps g SET published_version = v.version
         FROM unnest(?::text[], ?::int[]) AS v(gap_id, version) WHERE g.gap_id = v.gap_id`,
      [gaps.map((g) => g.gapId), gaps.map((g) => g.eventVersion)],
    );
  }
}

interface GapRow {
  gap_id: string;
  series_id: string;
  from_ms: string;
  to_ms: string;
  missing_bars: number;
  remaining_bars: number;
  remaining: Array<{ from_ms: number; to_ms: number; missing_bars: number }>;
  kind: GapKind;
  status: GapStatus;
  detected_ms: string;
  updated_ms: string;
  filled_ms: string | null;
  filled_by: GapFill | null;
  published_version: number;
  event_version: number;
  symbol: string;
  timeframe: string;
  provider: string;
  venue: string;
}

const GAP_COLUMNS = `g.gap_id, g.series_id, ${MS('g.from_utc')} AS from_ms, ${MS('g.to_utc')} AS to_ms, g.missing_bars,
         g.remaining_bars, g.remaining, g.kind, g.status, ${MS('g.detected_at')} AS detected_ms,
         ${MS('g.updated_at')} AS updated_ms, ${MS('g.filled_at')} AS filled_ms, g.filled_by,
         g.published_version, g.event_version, s.symbol, s.timeframe, s.provider, s.venue`;

const SELECT_GAP = `SELECT ${GAP_COLUMNS} FROM data_gaps g JOIN market_series s ON s.id = g.series_id`;

const toPiece = (r: GapRange) => ({ from_ms: r.fromMs, to_ms: r.toMs, missing_bars: r.missingBars });

function toGap(r: GapRow): StoredGap {
  return {
    gapId: r.gap_id,
    seriesId: Number(r.series_id),
    fromMs: Number(r.from_ms),
    toMs: Number(r.to_ms),
    missingBars: r.missing_bars,
    remainingBars: r.remaining_bars,
    remaining: r.remaining.map((p) => ({
      fromMs: Number(p.from_ms),
      toMs: Number(p.to_ms),
      missingBars: Number(p.missing_bars),
    })),
    kind: r.kind,
    status: r.status,
    detectedAtMs: Number(r.detected_ms),
    updatedAtMs: Number(r.updated_ms),
    filledAtMs: r.filled_ms === null ? null : Number(r.filled_ms),
    filledBy: r.filled_by,
    publishedVersion: r.published_version,
    eventVersion: r.event_version,
    symbol: r.symbol,
    timeframe: r.timeframe,
    provider: r.provider,
    venue: r.venue,
  };
}
