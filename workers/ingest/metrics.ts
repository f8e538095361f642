import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RejectCode } from '../../shared/domain/errors';
import { dependencyFailuresCounter } from '../../shared/runtime/metrics';

/** The steps of a flush, in order, each timed so a slow flush says where its time went. */
export const FLUSH_STAGES = ['dead-letter', 'resolve-series', 'write', 'gaps', 'commit'] as const;
export type FlushStage = (typeof FLUSH_STAGES)[number];

const STAGE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The ingest worker's counters: plain fields for the worker itself, its tests and /healthz, and
 * the same figures in prom-client for /metrics. Each is updated once per batch or flush.
 */
export class IngestMetrics {
  messages = 0;
  barsInserted = 0;
  barsCorrected = 0;
  barsUnchanged = 0;
  flushes = 0;
  /** Messages in the largest flush so far. */
  largestFlush = 0;
  dependencyFailures = 0;
  readonly rejected = new Map<RejectCode, number>();
  private readonly flushMs: number[] = [];
  /** Total milliseconds spent in each stage, retries included. */
  readonly stageMs: Record<FlushStage, number> = Object.fromEntries(FLUSH_STAGES.map((s) => [s, 0])) as Record<
    FlushStage,
    number
  >;

  private readonly prom: {
    messages: Counter;
    bars: Counter<'result'>;
    rejected: Counter<'code'>;
    flushes: Counter;
    stage: Histogram<'stage'>;
    flush: Histogram;
    lag: Gauge<'topic' | 'partition'>;
    dependencyFailures: Counter<'dependency'>;
  };

  constructor(readonly registry: Registry = new Registry()) {
    const registers = [registry];
    this.prom = {
      messages: new Counter({ name: 'bi_messages_total', help: 'messages consumed', registers }),
      bars: new Counter({
        name: 'bi_bars_written_total',
        help: 'accepted bars by what the write did: inserted, corrected (changed values), unchanged (re-sent or older)',
        labelNames: ['result'],
        registers,
      }),
      rejected: new Counter({
        name: 'bi_dead_letters_total',
        help: 'messages sent to the dead-letter topic, by error code',
        labelNames: ['code'],
        registers,
      }),
      flushes: new Counter({ name: 'bi_flushes_total', help: 'flushes committed', registers }),
      stage: new Histogram({
        name: 'bi_flush_stage_seconds',
        help: 'time spent in each stage of a flush, retries included',
        labelNames: ['stage'],
        buckets: STAGE_BUCKETS,
        registers,
      }),
      flush: new Histogram({
        name: 'bi_flush_seconds',
        help: 'time from the start of a flush to its offset commit',
        buckets: STAGE_BUCKETS,
        registers,
      }),
      lag: new Gauge({
        name: 'bi_consumer_lag',
        help: 'messages behind the partition end, as of the last batch this worker fetched',
        labelNames: ['topic', 'partition'],
        registers,
      }),
      dependencyFailures: dependencyFailuresCounter(registry),
    };
  }

  /** Registers a gauge read at scrape time (messages waiting, unpublished gap events). */
  gauge(name: string, help: string, read: () => number | Promise<number>): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        this.set(await read());
      },
    });
  }

  dependencyFailed(step: string): void {
    this.dependencyFailures += 1;
    this.prom.dependencyFailures.inc({ dependency: step });
  }

  consumed(count: number): void {
    this.messages += count;
    this.prom.messages.inc(count);
  }

  lag(topic: string, partition: number, behind: number): void {
    this.prom.lag.set({ topic, partition: String(partition) }, behind);
  }

  reject(code: RejectCode): void {
    this.rejected.set(code, (this.rejected.get(code) ?? 0) + 1);
    this.prom.rejected.inc({ code });
  }

  rejectedTotal(): number {
    let total = 0;
    for (const n of this.rejected.values()) total += n;
    return total;
  }

  written(inserted: number, corrected: number, unchanged: number): void {
    this.barsInserted += inserted;
    this.barsCorrected += corrected;
    this.barsUnchanged += unchanged;
    if (inserted > 0) this.prom.bars.inc({ result: 'inserted' }, inserted);
    if (corrected > 0) this.prom.bars.inc({ result: 'corrected' }, corrected);
    if (unchanged > 0) this.prom.bars.inc({ result: 'unchanged' }, unchanged);
  }

  stage(stage: FlushStage, ms: number): void {
    this.stageMs[stage] += ms;
    this.prom.stage.observe({ stage }, ms / 1000);
  }

  recordFlush(ms: number, size: number): void {
    this.flushes += 1;
    this.prom.flushes.inc();
    this.prom.flush.observe(ms / 1000);
    if (size > this.largestFlush) this.largestFlush = size;
    // A bounded window: enough for p50/p99, and memory stays flat however long the worker runs.
    if (this.flushMs.length >= 4096) this.flushMs.shift();
    this.flushMs.push(ms);
  }

  flushPercentile(p: number): number {
    if (this.flushMs.length === 0) return 0;
    const sorted = [...this.flushMs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }

  snapshot(): Record<string, unknown> {
    return {
      messages: this.messages,
      bars_inserted: this.barsInserted,
      bars_corrected: this.barsCorrected,
      bars_unchanged: this.barsUnchanged,
      rejected: Object.fromEntries(this.rejected),
      flushes: this.flushes,
      largest_flush: this.largestFlush,
      flush_ms_p50: this.flushPercentile(50),
      flush_ms_p99: this.flushPercentile(99),
      stage_ms_total: { ...this.stageMs },
      dependency_failures: this.dependencyFailures,
    };
  }
}
