import type { Knex } from 'knex';
import type { Producer } from 'kafkajs';
import type { AvroCodec } from './registry';
import type { GapStore, StoredGap } from './gap-store';
import { seriesKey } from '../domain/series';
import { crashPoint } from '../runtime/crash-points';

export interface GapEventSink {
  /** Resolves once the broker acknowledged every event; sends them in the order given. */
  publish(events: StoredGap[]): Promise<void>;
}

/** The Series record that DataGap and HistoryRequest share (canonical names and the series id). */
export function seriesRecord(g: StoredGap): Record<string, unknown> {
  return { series_id: g.seriesId, symbol: g.symbol, timeframe: g.timeframe, provider: g.provider, venue: g.venue };
}

/** The DataGap record of one state of a gap (schemas/data-gap.avsc). */
export function dataGapRecord(g: StoredGap): Record<string, unknown> {
  return {
    gap_id: g.gapId,
    series: seriesRecord(g),
    from_utc: g.fromMs,
    to_utc: g.toMs,
    missing_bars: g.missingBars,
    kind: g.kind,
    status: g.status,
    detected_at: g.detectedAtMs,
    version: g.eventVersion,
    changed_at: g.updatedAtMs,
    remaining_bars: g.remainingBars,
    remaining: g.remaining.map((r) => ({ from_utc: r.fromMs, to_utc: r.toMs, missing_bars: r.missingBars })),
    filled_at: g.filledAtMs,
    filled_by: g.filledBy,
  };
}

/** DataGap events on the gaps topic, keyed by series like the bars (one gap: one partition, in order). */
export function kafkaGapSink(producer: Producer, codec: AvroCodec, schemaId: number, topic: string): GapEventSink {
  return {
    async publish(due) {
      const messages = await Promise.all(
        due.map(async (g) => ({ key: seriesKey(g), value: await codec.encode(schemaId, dataGapRecord(g)) })),
      );
      await producer.send({ topic, acks: -1, messages });
    },
  };
}

/**
 * The data_gaps outbox: every change of a gap not published yet (data_gap_events, one row per
 * committed change) goes out in version order, and is marked only after the broker acknowledged
 * it, so a crash republishes rather than loses an event. Publishing only a row's latest state
 * would drop OPEN whenever a gap changed again before the outbox ran (a backfill requested within
 * a tick of detection); the gap rows are locked with SKIP LOCKED, so concurrent workers never
 * publish changes of one gap at the same time or out of order.
 */
export class GapOutbox {
  constructor(
    private readonly knex: Knex,
    private readonly store: GapStore,
    private readonly sink: GapEventSink,
    private readonly graceMs: number,
  ) {}

  private running: Promise<number> | undefined;

  /** Publishes what is due; a call while a round is under way joins that round. */
  publishDue(limit = 500): Promise<number> {
    // One round at a time per process: a slow broker must not pile up open transactions.
    this.running ??= this.publishRounds(limit).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Resolves once no round is under way (for a clean stop). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async publishRounds(limit: number): Promise<number> {
    let total = 0;
    for (;;) {
      const sent = await this.knex.transaction(async (trx) => {
        const due = await this.store.dueEvents(trx, this.graceMs, limit);
        if (due.length === 0) return 0;
        const events = await this.store.unpublishedEvents(
          trx,
          due.map((g) => g.gapId),
        );
        if (events.length > 0) await this.sink.publish(events);
        crashPoint('gap-events-produced');
        await this.store.markPublished(trx, due, events);
        return due.length;
      });
      total += sent;
      if (sent < limit) return total;
    }
  }
}

/** History requests on their topic, keyed by series like the bars (schemas/history-request.avsc). */
export function kafkaHistoryRequestSink(producer: Producer, codec: AvroCodec, schemaId: number, topic: string) {
  return {
    async send({ requestId, gap, attempt }: { requestId: string; gap: StoredGap; attempt: number }): Promise<void> {
      const value = await codec.encode(schemaId, {
        request_id: requestId,
        gap_id: gap.gapId,
        series: seriesRecord(gap),
        from_utc: gap.fromMs,
        to_utc: gap.toMs,
        attempt,
      });
      await producer.send({ topic, acks: -1, messages: [{ key: seriesKey(gap), value }] });
    },
  };
}
