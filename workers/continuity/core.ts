import type { Catalog } from '../../shared/domain/bar';
import { GapKind } from '../../shared/domain/gaps';
import { ALWAYS_OPEN_CALENDARS, RefreshingCalendars } from '../../shared/domain/calendar-book';
import { remainingCalendarGaps } from '../../shared/domain/calendar-gaps';
import { consumedPast, settlement, TopicPosition } from '../../shared/domain/backfill';
import { parseTimeframe } from '../../shared/domain/timeframe';
import type { BackfillLedger } from '../../shared/adapters/backfill-ledger';
import type { GapOutbox } from '../../shared/adapters/gap-events';
import type { StoredGap } from '../../shared/adapters/gap-store';
import {
  ConnectionStatusEvent,
  HistoryResponseEvent,
  validateConnectionStatus,
  validateHistoryResponse,
} from '../../shared/domain/continuity-events';
import type { Logger } from '../../shared/runtime/log';

export type { ConnectionStatusEvent, HistoryResponseEvent } from '../../shared/domain/continuity-events';

export interface HistoryRequestSink {
  /** Resolves once the broker acknowledged the request. */
  send(request: { requestId: string; gap: StoredGap; attempt: number }): Promise<void>;
}

/** Where the ingest workers stand on the bars topic. */
export interface IngestProgress {
  /** The bars topic's end offsets now. */
  barsEnd(): Promise<TopicPosition>;
  /** The ingest consumer group's committed offsets on the bars topic. */
  committed(): Promise<TopicPosition>;
}

export interface ContinuityOptions {
  /** Kinds of gap the exporter is asked to backfill. */
  backfillKinds: GapKind[];
  maxAttempts: number;
  /** Wait for an answer this long after the first attempt, doubling after each. */
  retryMs: number;
  /**
   * How long what is still missing of an answered gap waits before it is NO_DATA, counted from
   * when the ingest workers have consumed past the answer (its bars are stored by then), unless
   * the stored bars account for every bar the answer says was sent before that.
   */
  settleMs: number;
  graceMs: number;
  /** Event times before this are refused (an unset time sent as zero). */
  minEventTimeMs: number;
  /** How far an event time may run ahead of this worker's clock. */
  maxClockSkewMs: number;
}

/**
 * The continuity worker's logic: connection status events become sessions and (re)classify
 * gaps; open gaps become history requests, retried with backoff and then UNFILLABLE; answers
 * settle into FILLED or NO_DATA on facts (shared/domain/backfill.ts). Every state change is a
 * DataGap event through the outbox.
 */
export class ContinuityCore {
  constructor(
    /** What it reads and changes in PostgreSQL (shared/adapters/backfill-ledger.ts). */
    private readonly ledger: BackfillLedger,
    private readonly outbox: GapOutbox,
    private readonly requests: HistoryRequestSink,
    private readonly progress: IngestProgress,
    private readonly catalog: Catalog & { resolveUnknown(providers: string[], venues: string[]): Promise<boolean> },
    private readonly options: ContinuityOptions,
    private readonly log: Logger,
    /** Trading calendars: what is still missing counts only bars that should exist. */
    private readonly calendars: RefreshingCalendars = ALWAYS_OPEN_CALENDARS,
  ) {}

  /** Records a connection change; bad input throws a RejectError (the caller dead-letters it). */
  async onConnectionStatus(event: ConnectionStatusEvent): Promise<void> {
    const limits = { minTsMs: this.options.minEventTimeMs, maxSkewMs: this.options.maxClockSkewMs };
    const validate = (): ReturnType<typeof validateConnectionStatus> =>
      validateConnectionStatus(event, this.catalog, Date.now(), limits);
    let change;
    try {
      change = validate();
    } catch (err) {
      // A name registered since the catalog was loaded: look once, then judge again.
      if (!isUnknownName(err) || !(await this.catalog.resolveUnknown([event.provider], [event.venue]))) throw err;
      change = validate();
    }
    const { provider, venue } = change;
    const changed = await this.ledger.transaction(async (tx) => {
      await tx.recordConnectionStatus(change);
      return tx.classifyGaps({ provider, venue });
    });
    if (changed > 0) this.log.info('gaps reclassified', { provider, venue, gaps: changed });
    await this.outbox.publishDue();
  }

  async onHistoryResponse(event: HistoryResponseEvent): Promise<void> {
    const response = validateHistoryResponse(event);
    // The exporter wrote the answer's bars before the answer: they are behind this position.
    const barsEnd = await this.progress.barsEnd();
    const known = await this.ledger.recordResponse({
      requestId: response.request_id,
      status: response.status,
      barsSent: Number(response.bars_sent),
      barsEnd,
    });
    if (!known) this.log.info('history response for no pending request (late or repeated)', { ...response });
  }

  /** One round of the backfill scheduler. */
  async tick(): Promise<void> {
    await this.ledger.transaction(async (tx) => {
      const due = await tx.dueRequests({
        kinds: this.options.backfillKinds,
        graceMs: this.options.graceMs,
        limit: 100,
      });
      const gaps = new Map((await tx.gapsByIds(due.map((d) => d.gapId))).map((g) => [g.gapId, g]));
      for (const d of due) {
        const gap = gaps.get(d.gapId)!;
        const attempt = d.attempts + 1;
        if (attempt > this.options.maxAttempts) {
          await tx.markUnfillable(d.gapId);
          this.log.warn('gap unfillable: history requests exhausted', { gapId: d.gapId, attempts: d.attempts });
          continue;
        }
        const requestId = `${d.gapId}-r${attempt}`;
        // Sent inside the transaction that marks it: if the commit fails the request is sent
        // again later (at least once); no other worker can send it meanwhile (row lock).
        await this.requests.send({ requestId, gap, attempt });
        await tx.markRequested(d.gapId, requestId, attempt, this.options.retryMs * 2 ** (attempt - 1));
      }
    });
    await this.calendars.refresh?.();
    await this.settleAnswers();
    await this.outbox.publishDue();
  }

  /** Answered gaps: FILLED, NO_DATA or still waiting, decided on what is stored and consumed. */
  private async settleAnswers(): Promise<void> {
    const waiting = await this.ledger.awaitingIngest(1000);
    if (waiting.length > 0) {
      const committed = await this.progress.committed();
      const ingested = waiting.filter((w) => consumedPast(committed, w.barsEnd)).map((w) => w.gapId);
      await this.ledger.markIngested(ingested);
    }
    await this.ledger.transaction(async (tx) => {
      const answered = await tx.answered(this.options.settleMs, 100);
      const answers = new Map(answered.map((a) => [a.gapId, a]));
      const gaps = await tx.gapsByIds([...answers.keys()]);
      const present = await tx.barTimes(
        gaps.map((g) => ({ seriesId: g.seriesId, afterMs: g.fromMs - 1, uptoMs: g.toMs - 1 })),
      );
      for (const [i, gap] of gaps.entries()) {
        const answer = answers.get(gap.gapId)!;
        const cal = this.calendars.forSeries(gap.venue, gap.symbol);
        const remaining = remainingCalendarGaps(cal, parseTimeframe(gap.timeframe), gap, present[i]!);
        // Usually the ingest workers recorded this already, as the bars arrived.
        await tx.trackGap(gap, remaining, this.options.graceMs);
        const outcome = settlement({
          missingBars: gap.missingBars,
          remainingBars: remaining.reduce((n, r) => n + r.missingBars, 0),
          barsSent: answer.barsSent,
          settleTimeUp: answer.settleTimeUp,
        });
        if (outcome === 'NO_DATA') {
          // Its history has no more for the range. Bars that still arrive fill it (ingest side).
          await tx.markNoData([gap.gapId]);
          this.log.info('gap settled NO_DATA', { gapId: gap.gapId, stillMissing: remaining.length });
        }
      }
    });
  }
}

function isUnknownName(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UNKNOWN_PROVIDER' || code === 'UNKNOWN_VENUE';
}
