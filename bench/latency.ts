/**
 * Live latency: the reference exporter's encoding, publishing new bars at a fixed rate while one
 * worker ingests them; then publish-to-committed latency per bar from the stored rows.
 *
 * Method and its bias: market_bars.version_ts is the Kafka record's CreateTime (set by the
 * producer when it sends), and updated_at defaults to now(), the start time of the flush's
 * transaction. So `updated_at - version_ts` is a LOWER bound of publish-to-committed: it misses the
 * time from the transaction's start to its commit (the flush's own duration, whose p50/p99 the
 * worker reports and which is printed next to it). Same host, same clock: no skew.
 */
import type { Knex } from 'knex';
import type { Message, Producer } from 'kafkajs';
import { benchSeries, FastEncoder, messageOf } from './dataset';
import { barAt } from '../exporter/generate';
import { sleep } from './procs';

export interface LatencyResult {
  targetRate: number;
  flushMaxBars: number;
  seconds: number;
  published: number;
  achievedRate: number;
  stored: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  workerFlushP50Ms: number;
  workerFlushP99Ms: number;
  /** Gap-to-DataGap-event latency: null until gap detection exists. */
  gapToEventMs: { p50: number; p99: number; max: number } | null;
  gapNote: string;
}

/** Distinct bars (200 series, each further back in time), pre-encoded, in publishing order. */
export function liveMessages(encoder: FastEncoder, count: number, nowMs = Date.now()): Message[] {
  const series = benchSeries(200, 'L');
  const perSeries = Math.ceil(count / series.length);
  const start = Math.floor(nowMs / 60_000) * 60_000 - (perSeries + 5) * 60_000;
  const out: Message[] = [];
  for (let i = 0; i < perSeries && out.length < count; i++) {
    for (let s = 0; s < series.length && out.length < count; s++) {
      out.push(messageOf(encoder, { ...barAt(series[s]!, s, start, i), run_id: 'bench-live' }, 'bench-live'));
    }
  }
  return out;
}

/** Publishes `messages` at `rate` per second, in ticks of `tickMs`, each send acknowledged by all in-sync replicas. */
export async function publishAtRate(
  producer: Producer,
  topic: string,
  messages: Message[],
  rate: number,
  tickMs = 20,
): Promise<{ published: number; ms: number }> {
  const started = performance.now();
  let sent = 0;
  while (sent < messages.length) {
    const elapsed = performance.now() - started;
    const due = Math.min(messages.length, Math.floor((elapsed / 1000) * rate) + 1);
    if (due > sent) {
      const batch = messages.slice(sent, due);
      sent = due;
      await producer.send({ topic, acks: -1, messages: batch });
    }
    const next = ((sent / rate) * 1000 - (performance.now() - started)) | 0;
    await sleep(Math.max(1, Math.min(tickMs, next)));
  }
  return { published: sent, ms: performance.now() - started };
}

export async function latencyFromRows(knex: Knex): Promise<{ stored: number; p50: number; p99: number; max: number }> {
  const r = await knex.raw<{ rows: Array<{ n: string; p50: number; p99: number; max: number }> }>(
    `SELECT count(*) AS n,
            percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
            max(ms) AS max
       FROM (SELECT extract(epoch FROM updated_at - version_ts) * 1000 AS ms FROM market_bars) t`,
  );
  const row = r.rows[0]!;
  return { stored: Number(row.n), p50: Number(row.p50), p99: Number(row.p99), max: Number(row.max) };
}

/**
 * Where gap-to-DataGap latency will be measured once gap detection exists: publish a series with
 * a hole, then time from the publish of the bar after the hole to the DataGap event on the gaps
 * topic. Until then it reports null with this note.
 */
export async function gapLatency(): Promise<{ value: LatencyResult['gapToEventMs']; note: string }> {
  return { value: null, note: 'n/a (gap detection not built yet)' };
}
