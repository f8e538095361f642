import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { AcceptedBar } from '../../shared/domain/flush';
import type { GapRange } from '../../shared/domain/gaps';
import { TradingCalendar } from '../../shared/domain/calendar';
import { ALWAYS_OPEN_CALENDARS, RefreshingCalendars } from '../../shared/domain/calendar-book';
import { fillsCalendarRange, findCalendarGaps, remainingCalendarGaps } from '../../shared/domain/calendar-gaps';
import type { Timeframe } from '../../shared/domain/timeframe';
import type { LastBarStore } from '../../shared/adapters/last-bar-store';
import type { GapStore } from '../../shared/adapters/gap-store';
import type { GapOutbox } from '../../shared/adapters/gap-events';
import type { Logger } from '../../shared/runtime/log';
import { crashPoint } from '../../shared/runtime/crash-points';
import { ClosedTimeBars } from './calendars';

interface SeriesInFlush {
  seriesId: number;
  tf: Timeframe;
  venue: string;
  symbol: string;
  /** The venue's trading calendar: which bars should exist (always open unless it has one). */
  cal: TradingCalendar;
  minMs: number;
  maxMs: number;
  times: number[];
}

/**
 * Gap detection for one flush, after its bars are committed and before its offsets are. Every
 * step is idempotent, in an order that makes a crash anywhere harmless:
 * 1. claim the new range of each series in Redis (atomic for the whole flush, journaled);
 * 2. find the holes in each claimed range (from the flush's own bars when they fill it, else from
 *    the bars PostgreSQL holds), and insert them with deterministic ids (a redelivered flush or
 *    a second worker inserts nothing new);
 * 3. record what is still missing of gaps (not FILLED) that late bars of this flush fall into, or
 *    that they are FILLED (a gap's detected range and count never change);
 * 4. release the claims; events go out through the data_gaps outbox (sent, then marked), without
 *    holding up the flush.
 */
export class GapTracker {
  constructor(
    private readonly knex: Knex,
    private readonly lastBars: LastBarStore,
    private readonly gaps: GapStore,
    private readonly outbox: GapOutbox,
    private readonly log: Logger,
    /** Allowed lateness: a gap filled sooner was never one. */
    private readonly graceMs: number,
    /** Trading calendars: a closed market is not a gap. */
    private readonly calendars: RefreshingCalendars = ALWAYS_OPEN_CALENDARS,
    readonly closedTimeBars = new ClosedTimeBars(),
  ) {}

  async afterWrite(accepted: readonly AcceptedBar[], seriesIds: ReadonlyMap<string, number>): Promise<void> {
    const bySeries = group(accepted, seriesIds);
    if (bySeries.length === 0) return;
    await this.calendars.refresh?.();
    for (const s of bySeries) {
      s.cal = this.calendars.forSeries(s.venue, s.symbol);
      this.closedTimeBars.count(s.cal, s.tf, s.times);
    }

    // Redis knows most series: claim at once, and seed only those it does not know (first
    // sight, a restarted or flushed Redis) from PostgreSQL, then claim those.
    const token = crypto.randomUUID();
    const entry = (s: SeriesInFlush) => ({ seriesId: s.seriesId, maxMs: s.maxMs });
    let claimed = await this.lastBars.claim(token, bySeries.map(entry));
    const unseeded = bySeries.filter((_, i) => claimed[i]!.needsSeed);
    if (unseeded.length > 0) {
      const seeds = await this.gaps.lastBarsBefore(unseeded.map((s) => ({ seriesId: s.seriesId, beforeMs: s.minMs })));
      const again = await this.lastBars.claim(token, unseeded.map(entry), seeds);
      const seeded = new Map(again.map((c) => [c.seriesId, c]));
      claimed = claimed.map((c) => seeded.get(c.seriesId) ?? c);
    }
    crashPoint('redis-advanced');

    const ranges = claimed.flatMap((c) => c.claims.map((claim) => ({ seriesId: c.seriesId, ...claim })));
    const inFlush = new Map(bySeries.map((s) => [s.seriesId, s]));
    // A range this flush holds every bar of has no hole, whatever else is stored: only the others
    // are read back (the holes this flush shows may have been filled by another worker).
    const unsure = ranges.filter((r) => !coveredBy(inFlush.get(r.seriesId)!, r));
    const times = await this.gaps.barTimes(unsure);
    const found: Array<GapRange & { seriesId: number }> = [];
    unsure.forEach((r, i) => {
      const s = inFlush.get(r.seriesId)!;
      for (const g of findCalendarGaps(s.cal, s.tf, r.afterMs, times[i]!)) found.push({ ...g, seriesId: r.seriesId });
    });
    // One transaction, so a crash cannot leave a gap inserted but never classified.
    const inserted = found.length > 0 ? await this.knex.transaction((trx) => this.gaps.insertGaps(found, trx)) : [];
    if (inserted.length > 0) this.log.info('gaps detected', { gaps: inserted.length });

    // Bars at or before the previous last_bar_time are late: they may land inside an open gap.
    const late: Array<{ seriesId: number; tsMs: number }> = [];
    for (const c of claimed) {
      const s = inFlush.get(c.seriesId)!;
      if (c.previousMs === null) continue;
      for (const t of s.times) if (t <= c.previousMs) late.push({ seriesId: s.seriesId, tsMs: t });
    }
    // The new gaps are read again now that they are committed: a concurrent worker may have stored
    // bars inside one after this worker read the range, and that worker's own check ran before the
    // gap existed. Usually nothing is there, and this one read is all it costs.
    const inside = await this.gaps.barTimes(
      found.map((g) => ({ seriesId: g.seriesId, afterMs: g.fromMs - 1, uptoMs: g.toMs - 1 })),
    );
    found.forEach((g, i) => {
      for (const t of inside[i]!) late.push({ seriesId: g.seriesId, tsMs: t });
    });
    const changed = late.length > 0 ? await this.reconcile(late, inFlush) : 0;
    crashPoint('gap-rows-written');

    await this.lastBars.release(ranges.map((r) => ({ seriesId: r.seriesId, field: r.field })));
    crashPoint('claims-released');
    // Events of this flush go out now, without holding up the next flush: the outbox row is
    // durable, and anything not sent (a crash, held back by the grace period) goes out with the
    // worker's timer.
    if (inserted.length > 0 || changed > 0) {
      this.outbox
        .publishDue()
        .catch((err: unknown) => this.log.warn('publishing gap events failed; will retry', { err }));
    }
  }

  private async reconcile(
    late: Array<{ seriesId: number; tsMs: number }>,
    inFlush: Map<number, SeriesInFlush>,
  ): Promise<number> {
    // Usually no open gap is near: one read instead of a transaction. A gap committed after this
    // look is checked by its finder, which re-reads its new gaps after inserting them.
    if (!(await this.gaps.anyOpenGapContains(late))) return 0;
    return this.knex.transaction(async (trx) => {
      const open = await this.gaps.openGapsContaining(trx, late);
      if (open.length === 0) return 0;
      const present = await this.gaps.barTimes(
        open.map((g) => ({ seriesId: g.seriesId, afterMs: g.fromMs - 1, uptoMs: g.toMs - 1 })),
        trx,
      );
      let changed = 0;
      for (const [i, gap] of open.entries()) {
        const s = inFlush.get(gap.seriesId)!;
        const remaining = remainingCalendarGaps(s.cal, s.tf, gap, present[i]!);
        if (await this.gaps.track(trx, gap, remaining, this.graceMs)) changed += 1;
      }
      return changed;
    });
  }
}

/** Whether the flush's own bars fill a claimed range. */
function coveredBy(s: SeriesInFlush, r: { afterMs: number | null; uptoMs: number }): boolean {
  // With nothing known before the range, older bars may be stored or arriving: read them.
  return r.afterMs !== null && fillsCalendarRange(s.cal, s.tf, r.afterMs, r.uptoMs, s.times);
}

function group(accepted: readonly AcceptedBar[], seriesIds: ReadonlyMap<string, number>): SeriesInFlush[] {
  const out = new Map<number, SeriesInFlush>();
  for (const a of accepted) {
    const seriesId = seriesIds.get(a.seriesKey)!;
    const t = a.bar.tsMs;
    const s = out.get(seriesId);
    if (!s) {
      const { tf, venue, symbol } = a.bar;
      out.set(seriesId, {
        seriesId,
        tf,
        venue,
        symbol,
        cal: TradingCalendar.ALWAYS_OPEN,
        minMs: t,
        maxMs: t,
        times: [t],
      });
    } else {
      s.times.push(t);
      if (t < s.minMs) s.minMs = t;
      if (t > s.maxMs) s.maxMs = t;
    }
  }
  for (const s of out.values()) s.times = [...new Set(s.times)].sort((a, b) => a - b);
  return [...out.values()].sort((a, b) => a.seriesId - b.seriesId);
}
