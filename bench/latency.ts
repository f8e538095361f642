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
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Kafka, Message, Producer } from 'kafkajs';
import type { AvroCodec } from '../shared/adapters/registry';
import { benchSeries, FastEncoder, messageOf } from './dataset';
import { barAt } from '../exporter/generate';
import { sleep } from '../shared/runtime/sleep';

export interface LatencyResult {
  targetRate: number;
  flushMaxMessages: number;
  seconds: number;
  published: number;
  achievedRate: number;
  stored: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  workerFlushP50Ms: number;
  workerFlushP99Ms: number;
  /** From the publish of the bar after a hole to the DataGap event's publish; null if no gap was seen. */
  gapToEventMs: { p50: number; p99: number; max: number } | null;
  gapNote: string;
  holes: number;
  /** Holes whose DataGap event arrived. */
  gapsSeen: number;
}

/** Every 10th series skips one bar in 50 (from its 6th on, so short runs have holes too), so the live stream reveals gaps at a steady pace. */
const HOLE_SERIES_EVERY = 10;
const HOLE_EVERY = 50;
const isHole = (seriesIndex: number, i: number): boolean =>
  seriesIndex % HOLE_SERIES_EVERY === 0 && i % HOLE_EVERY === 5;

/**
 * Distinct bars (200 series, each further back in time), pre-encoded, in publishing order, with
 * one-bar holes in some series; `holes` counts those that a later bar reveals.
 */
export function liveMessages(
  encoder: FastEncoder,
  count: number,
  nowMs = Date.now(),
): { messages: Message[]; holes: number } {
  const series = benchSeries(200, 'L');
  const perSeries = Math.ceil(count / series.length);
  const start = Math.floor(nowMs / 60_000) * 60_000 - (perSeries + 5) * 60_000;
  const messages: Message[] = [];
  const skipped: Array<{ s: number; i: number }> = [];
  const lastBar = new Array<number>(series.length).fill(-1);
  for (let i = 0; i < perSeries && messages.length < count; i++) {
    for (let s = 0; s < series.length && messages.length < count; s++) {
      if (isHole(s, i)) {
        skipped.push({ s, i });
        continue;
      }
      messages.push(messageOf(encoder, { ...barAt(series[s]!, s, start, i), run_id: 'bench-live' }, 'bench-live'));
      lastBar[s] = i;
    }
  }
  // A hole is a gap once the same series has a bar after it.
  return { messages, holes: skipped.filter((h) => lastBar[h.s]! > h.i).length };
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
 * Gap-to-DataGap latency: from the CreateTime of the bar that reveals a hole (the bar at the
 * gap's to_utc, whose version_ts is that CreateTime) to the CreateTime of the gap's first DataGap
 * event, which the worker's producer stamps when it sends. Same host, same clock.
 */
export async function gapLatency(
  kafka: Kafka,
  codec: AvroCodec,
  knex: Knex,
  topic: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<{ value: LatencyResult['gapToEventMs']; note: string; seen: number }> {
  if (expected === 0) return { value: null, note: 'n/a (no hole in the stream)', seen: 0 };
  const first = new Map<string, { seriesId: number; toMs: number; eventMs: number }>();
  const consumer = kafka.consumer({ groupId: `bench-gap-reader-${crypto.randomBytes(4).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const e = (await codec.decode(message.value!)) as {
          gap_id: string;
          series: { series_id: number };
          to_utc: number;
          status: string;
        };
        if (e.status === 'OPEN' && !first.has(e.gap_id))
          first.set(e.gap_id, { seriesId: e.series.series_id, toMs: e.to_utc, eventMs: Number(message.timestamp) });
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (first.size < expected && Date.now() < deadline) await sleep(200);
  } finally {
    await consumer.disconnect();
  }
  if (first.size === 0) return { value: null, note: `no DataGap event of ${expected} expected`, seen: 0 };
  const gaps = [...first.values()];
  const { rows } = await knex.raw<{ rows: Array<{ ms: number }> }>(
    `SELECT extract(epoch FROM g.event_at - b.version_ts) * 1000 AS ms
       FROM unnest(?::bigint[], ?::bigint[], ?::bigint[]) AS g0(series_id, to_ms, event_ms)
       CROSS JOIN LATERAL (SELECT to_timestamp(g0.to_ms / 1000.0) AS to_utc,
                                  to_timestamp(g0.event_ms / 1000.0) AS event_at) g
       JOIN market_bars b ON b.series_id = g0.series_id AND b.ts_utc = g.to_utc`,
    [gaps.map((g) => g.seriesId), gaps.map((g) => g.toMs), gaps.map((g) => g.eventMs)],
  );
  const ms = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
  const pick = (p: number): number => Math.round(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!);
  return {
    value: ms.length > 0 ? { p50: pick(0.5), p99: pick(0.99), max: Math.round(ms[ms.length - 1]!) } : null,
    note: `${first.size} of ${expected} gaps seen, ${ms.length} matched to their revealing bar`,
    seen: first.size,
  };
}
