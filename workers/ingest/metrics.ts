import type { RejectCode } from '../../shared/domain/errors';

/** The steps of a flush, in order, each timed so a slow flush says where its time went. */
export const FLUSH_STAGES = ['dead-letter', 'resolve-series', 'write', 'gaps', 'commit'] as const;
export type FlushStage = (typeof FLUSH_STAGES)[number];

/** Counters a person or Prometheus can read from /metrics. */
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

  reject(code: RejectCode): void {
    this.rejected.set(code, (this.rejected.get(code) ?? 0) + 1);
  }

  rejectedTotal(): number {
    let total = 0;
    for (const n of this.rejected.values()) total += n;
    return total;
  }

  recordFlush(ms: number, size: number): void {
    this.flushes += 1;
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

  prometheus(): string {
    const lines = [
      '# TYPE bi_messages_total counter',
      `bi_messages_total ${this.messages}`,
      '# TYPE bi_bars_written_total counter',
      `bi_bars_written_total{result="inserted"} ${this.barsInserted}`,
      `bi_bars_written_total{result="corrected"} ${this.barsCorrected}`,
      `bi_bars_written_total{result="unchanged"} ${this.barsUnchanged}`,
      '# TYPE bi_rejected_total counter',
      ...[...this.rejected].map(([code, n]) => `bi_rejected_total{code="${code}"} ${n}`),
      '# TYPE bi_flushes_total counter',
      `bi_flushes_total ${this.flushes}`,
      '# TYPE bi_flush_stage_seconds_total counter',
      ...FLUSH_STAGES.map((s) => `bi_flush_stage_seconds_total{stage="${s}"} ${(this.stageMs[s] / 1000).toFixed(3)}`),
      '# TYPE bi_dependency_failures_total counter',
      `bi_dependency_failures_total ${this.dependencyFailures}`,
    ];
    return lines.join('\n') + '\n';
  }
}
