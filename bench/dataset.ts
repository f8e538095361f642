/**
 * The benchmark's data: 200 1-Min series at Binance, every bar sent by 5 strategy runs (so 5
 * messages per distinct bar), a few holes, and 1% of the bars corrected by one more message sent
 * after everything else (a later produce time, so the correction wins and bumps `revision`).
 * Everything is deterministic from the plan, so the expected counts are known without reading back.
 */
import type { Message, Producer } from 'kafkajs';
import type { Type } from 'avsc';
import { RegistryCodec, readSchema, SCHEMA_FILES } from '../shared/adapters/registry';
import type { WireBar } from '../shared/domain/bar';
import { barAt, ExportedSeries } from '../exporter/generate';
import { BarPublisher } from '../exporter/publisher';
import { EXPORTER_HEADER } from '../shared/contract';

export const SERIES = 200;
export const RUNS = 5;
const STEP_MS = 60_000;

/** 200 Binance tickers `XAAAUSDT`, `XAABUSDT`, ...: each normalizes to its own `XAAA/USDT`. */
export function benchSeries(count = SERIES, tag = 'X'): ExportedSeries[] {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return Array.from({ length: count }, (_, n) => ({
    provider: 'Quantower',
    venue: 'Binance',
    symbol: `${tag}${letters[Math.floor(n / 676) % 26]}${letters[Math.floor(n / 26) % 26]}${letters[n % 26]}USDT`,
    timeframe: '1m',
    stepMs: STEP_MS,
    basePrice: 10 + n * 3.7,
  }));
}

export interface Plan {
  series: ExportedSeries[];
  barsPerSeries: number;
  startMs: number;
  /** Distinct bars that end up stored (bar indices minus holes). */
  distinct: number;
  holes: number;
  /** Missing bars a later bar reveals: what the stored gaps must add up to. */
  gapBars: number;
  corrections: number;
  /** Messages on the topic: distinct x runs + corrections. */
  messages: number;
}

/** A hole: a bar no run sends. A few per series, at fixed places. */
function isHole(s: number, i: number, barsPerSeries: number): boolean {
  return (s % 4 === 0 && i === Math.floor(barsPerSeries / 2)) || i % 500 === 250;
}

/** Every 100th distinct bar is corrected once (1%). */
function isCorrected(distinctIndex: number): boolean {
  return distinctIndex % 100 === 7;
}

/** A plan of about `targetMessages` messages, bars ending a few minutes before `nowMs`. */
export function makePlan(targetMessages: number, nowMs = Date.now()): Plan {
  const series = benchSeries();
  const barsPerSeries = Math.max(4, Math.round(targetMessages / (SERIES * RUNS * 1.002)));
  const startMs = Math.floor(nowMs / STEP_MS) * STEP_MS - (barsPerSeries + 5) * STEP_MS;
  let distinct = 0;
  let holes = 0;
  let gapBars = 0;
  let corrections = 0;
  for (let i = 0; i < barsPerSeries; i++) {
    for (let s = 0; s < SERIES; s++) {
      if (isHole(s, i, barsPerSeries)) {
        holes++;
        if (i < barsPerSeries - 1) gapBars++;
      } else if (isCorrected(distinct++)) corrections++;
    }
  }
  return {
    series,
    barsPerSeries,
    startMs,
    distinct,
    holes,
    gapBars,
    corrections,
    messages: distinct * RUNS + corrections,
  };
}

/** The bar as it is finally stored (after its correction, if any). */
export interface FinalBar {
  seriesIndex: number;
  /** As the runs first send it. */
  original: WireBar;
  /** As finally stored. */
  bar: WireBar;
  corrected: boolean;
}

/** Distinct bars in publishing order (bar index, then series), with the correction applied. */
export function* distinctBars(plan: Plan): Generator<FinalBar> {
  let d = 0;
  for (let i = 0; i < plan.barsPerSeries; i++) {
    for (let s = 0; s < SERIES; s++) {
      if (isHole(s, i, plan.barsPerSeries)) continue;
      const original = barAt(plan.series[s]!, s, plan.startMs, i);
      const corrected = isCorrected(d++);
      yield { seriesIndex: s, original, bar: corrected ? correct(original) : original, corrected };
    }
  }
}

function correct(bar: WireBar): WireBar {
  return { ...bar, volume: bar.volume + 1 };
}

/** Avro in the Confluent wire format, encoded with the registry's own avsc type (no per-message HTTP). */
export class FastEncoder {
  private constructor(
    private readonly header: Buffer,
    private readonly type: Type,
    readonly schemaId: number,
  ) {}

  static async create(codec: RegistryCodec, topic: string): Promise<FastEncoder> {
    const id = await codec.register(topic, readSchema(SCHEMA_FILES.bars));
    const type = (await codec.client.getSchema(id)) as unknown as Type;
    const header = Buffer.alloc(5);
    header.writeUInt8(0, 0);
    header.writeUInt32BE(id, 1);
    return new FastEncoder(header, type, id);
  }

  encode(bar: WireBar): Buffer {
    return Buffer.concat([this.header, this.type.toBuffer(bar)]);
  }
}

const keyCache = new Map<string, Buffer>();
export function messageOf(encoder: FastEncoder, bar: WireBar, exporterId = 'bench-exporter'): Message {
  const k = BarPublisher.keyOf(bar);
  let key = keyCache.get(k);
  if (!key) keyCache.set(k, (key = Buffer.from(k)));
  return { key, value: encoder.encode(bar), headers: { [EXPORTER_HEADER]: exporterId } };
}

/**
 * The plan's messages in two phases: every run's copy of every bar, in time order, then the
 * corrections, which must be produced strictly after (later offset and later CreateTime) to be
 * corrections.
 */
export function planMessages(
  plan: Plan,
  encoder: FastEncoder,
): { originals: Iterable<Message>; corrections: () => Message[] } {
  const corrected: WireBar[] = [];
  function* originals(): Generator<Message> {
    for (const { original, bar, corrected: isCorr } of distinctBars(plan)) {
      for (let run = 1; run <= RUNS; run++) yield messageOf(encoder, { ...original, run_id: `bench-run-${run}` });
      if (isCorr) corrected.push(bar);
    }
  }
  return {
    originals: originals(),
    corrections: () => corrected.map((bar) => messageOf(encoder, { ...bar, run_id: 'bench-run-1' })),
  };
}

/**
 * Produces messages in big chunks, `inFlight` at a time, no compression. With more than one in
 * flight, two chunks may land on a partition in either order: only for messages whose order does
 * not matter. Returns the number of messages sent.
 */
export async function produce(
  producer: Producer,
  topic: string,
  messages: Iterable<Message>,
  { chunk = 10_000, maxInFlight = 3 } = {},
): Promise<number> {
  let batch: Message[] = [];
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const flush = async (): Promise<void> => {
    const msgs = batch;
    batch = [];
    const p = producer.send({ topic, acks: 1, messages: msgs }).then(() => {
      sent += msgs.length;
      inFlight.delete(p);
    });
    inFlight.add(p);
    if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
  };
  for (const m of messages) {
    batch.push(m);
    if (batch.length >= chunk) await flush();
  }
  if (batch.length > 0) await flush();
  await Promise.all(inFlight);
  return sent;
}
