import type { Knex } from 'knex';
import type { Producer } from 'kafkajs';
import type { AvroCodec } from './registry';
import type { GapStore, StoredGap } from './gap-store';
import { seriesKey } from '../domain/series';
import { crashPoint } from '../runtime/crash-points';

export interface GapEventSink {
  /** Resolves once the broker acknowledged every event. */
  publish(gaps: StoredGap[]): Promise<void>;
}

/** DataGap events on the gaps topic, keyed by series like the bars. */
export function kafkaGapSink(producer: Producer, codec: AvroCodec, schemaId: number, topic: string): GapEventSink {
  return {
    async publish(due) {
      const messages = await Promise.all(
        due.map(async (g) => ({
          key: seriesKey(g),
          value: await codec.encode(schemaId, {
            gap_id: g.gapId,
            series: {
              series_id: g.seriesId,
              symbol: g.symbol,
              timeframe: g.timeframe,
              provider: g.provider,
              venue: g.venue,
            },
            from_utc: g.fromMs,
            to_utc: g.toMs,
            missing_bars: g.missingBars,
            kind: g.kind,
            status: g.status,
            detected_at: g.detectedAtMs,
          }),
        })),
      );
      await producer.send({ topic, acks: -1, messages });
    },
  };
}

/**
 * The data_gaps outbox: every gap whose latest state was not published yet goes out, and is
 * marked only after the broker acknowledged it, so a crash republishes rather than loses an event.
 * Rows are locked with SKIP LOCKED, so concurrent workers never publish the same change twice.
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
        await this.sink.publish(due);
        crashPoint('gap-events-produced');
        await this.store.markPublished(trx, due);
        return due.length;
      });
      total += sent;
      if (sent < limit) return total;
    }
  }
}
