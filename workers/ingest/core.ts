import { canonicalizeBar, Catalog, ExporterDefaults, IdentityCache, WireBar } from '../../shared/domain/bar';
import { isRejectError, RejectCode } from '../../shared/domain/errors';
import { accept, AcceptedBar, BarRow, planFlush, RunSpan } from '../../shared/domain/flush';
import type { SeriesIdentity } from '../../shared/domain/series';
import type { Logger } from '../../shared/runtime/log';
import { FlushStage, IngestMetrics } from './metrics';

/** A Kafka record as the core sees it, free of any client library's types. */
export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestampMs: number;
  headers: Record<string, string | undefined>;
}

export interface Rejected {
  message: InboundMessage;
  code: RejectCode;
  reason: string;
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  /** The next offset to read, as Kafka expects. */
  offset: string;
}

export interface WriteResult {
  inserted: number;
  corrected: number;
  unchanged: number;
}

/** Everything the core needs from the outside world, as small functions. */
export interface IngestPorts {
  decode(value: Buffer): Promise<unknown>;
  catalog: Catalog & { resolveUnknown(providers: string[], venues: string[]): Promise<boolean> };
  resolveSeries(series: SeriesIdentity[]): Promise<ReadonlyMap<string, number>>;
  /** Writes bars, coverage and subscriptions atomically (one statement). */
  write(rows: BarRow[], spans: RunSpan[]): Promise<WriteResult>;
  /** Resolves once the broker acknowledged every dead letter. */
  deadLetter(rejected: Rejected[]): Promise<void>;
  commit(offsets: OffsetToCommit[]): Promise<void>;
  /**
   * Runs after the flush's rows are committed and before its offsets are (gap detection lives
   * here). Must be idempotent: after a crash the same flush is redelivered and runs it again.
   */
  afterWrite?(accepted: readonly AcceptedBar[], seriesIds: ReadonlyMap<string, number>): Promise<void>;
  exporterDefaults(exporterId: string): ExporterDefaults | undefined;
}

export interface IngestOptions {
  /** Flush when this many messages are waiting... */
  flushMaxBars: number;
  /** ...or when the oldest waiting message has waited this long. */
  flushMaxWaitMs: number;
  /**
   * Back-pressure: a partition's batch is not accepted while this many messages wait, which
   * bounds memory and pauses consumption while a dependency is failing.
   */
  maxPendingBars: number;
  /** Retry delays for failing dependencies, doubling up to the max. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** A flush that takes longer is logged with the time of each stage. */
  slowFlushMs?: number;
  now?: () => number;
}

export const EXPORTER_HEADER = 'bi-exporter-id';

/**
 * A queued message. Accepted ones keep only their position, not the Kafka buffers: a key or value
 * is a slice that would keep a whole fetch response alive for as long as the message waits.
 */
interface Item {
  position: Position;
  accepted?: AcceptedBar;
  rejected?: Rejected;
}

export interface Position {
  topic: string;
  partition: number;
  offset: string;
}

/** One flush on its way through the pipeline. */
class Flush {
  readonly accepted: AcceptedBar[] = [];
  seriesIds: ReadonlyMap<string, number> | undefined;
  readonly stages: Partial<Record<FlushStage, number>> = {};
  settled = false;
  constructor(
    readonly items: Item[],
    readonly startedMs: number,
  ) {}
}

export class ShutdownError extends Error {
  readonly code = 'SHUTDOWN';
  constructor() {
    super('worker is shutting down');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const yieldToIo = (): Promise<void> => new Promise((r) => setImmediate(r));
const DECODE_SLICE = 256;

/**
 * The ingest worker's logic: decode, canonicalize and validate each message, batch across
 * partitions, then per flush: dead letters acknowledged, rows written in one atomic statement, and only
 * then the offsets committed. A failing dependency is retried with backoff (the worker reports
 * itself unhealthy meanwhile) and never turns a message into a dead letter.
 */
export class IngestCore {
  readonly metrics = new IngestMetrics();
  private queue: Item[] = [];
  private inFlight = 0;
  /** Flushes write one after another on this chain... */
  private writing: Promise<void> = Promise.resolve();
  /** ...and finish (gap detection, offset commit) one after another on this one. */
  private finishing: Promise<void> = Promise.resolve();
  /** Set when a flush was given up at shutdown: no later flush may commit past it. */
  private abandoned = false;
  private kicked = false;
  private flushWaiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private failingSince: number | undefined;
  private readonly now: () => number;
  private readonly identities = new IdentityCache();

  constructor(
    private readonly ports: IngestPorts,
    private readonly options: IngestOptions,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Healthy unless a dependency is failing right now. */
  health(): { healthy: boolean; failingForMs: number } {
    return {
      healthy: this.failingSince === undefined,
      failingForMs: this.failingSince === undefined ? 0 : this.now() - this.failingSince,
    };
  }

  /**
   * Takes one partition's batch. Resolves once the batch is queued for a flush and the queue is
   * below its high-water mark: the consumer may then fetch more, so one flush can span many
   * fetches and partitions. Durability is not the caller's concern: offsets are committed by the
   * flush, only after the rows and dead letters it carries are durable. `heartbeat` keeps the
   * group membership alive while back-pressure holds the batch.
   */
  async submit(messages: InboundMessage[], heartbeat: () => Promise<void> = async () => undefined): Promise<void> {
    if (messages.length === 0) return;
    const beat = setInterval(() => heartbeat().catch(() => undefined), 2_000);
    try {
      const items = await this.retrying('decode', () => this.prepare(messages));
      this.queue.push(...items);
      this.schedule();
      while (!this.stopping && this.queue.length + this.inFlight >= this.options.maxPendingBars) {
        await this.nextFlush();
      }
    } finally {
      clearInterval(beat);
    }
  }

  /** Resolves when nothing is queued or being flushed. */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) {
      if (this.queue.length > 0) this.kick();
      await this.nextFlush();
    }
  }

  private nextFlush(): Promise<void> {
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /**
   * Flushes what is queued. A flush that meets a failing dependency while stopping gives up
   * instead of retrying: nothing of it is committed, so Kafka redelivers it to the next owner.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    while (this.queue.length > 0 && !this.abandoned) {
      this.kick();
      await this.writing;
    }
    await this.writing;
    await this.finishing;
    if (this.timer) clearTimeout(this.timer);
  }

  private async prepare(messages: InboundMessage[]): Promise<Item[]> {
    const items: Item[] = [];
    const unknownProviders = new Set<string>();
    const unknownVenues = new Set<string>();
    const wires = new Map<Item, WireBar>();
    const messageOf = new Map<Item, InboundMessage>();
    for (const [n, message] of messages.entries()) {
      // Let I/O through between slices of a large batch: a flush waiting on PostgreSQL must not
      // wait for the decoding of a whole fetch as well.
      if (n > 0 && n % DECODE_SLICE === 0) await yieldToIo();
      const item: Item = { position: { topic: message.topic, partition: message.partition, offset: message.offset } };
      items.push(item);
      messageOf.set(item, message);
      if (message.value === null || message.value.length === 0) {
        item.rejected = { message, code: 'DECODE_FAILED', reason: 'message has no value (empty or tombstone)' };
        continue;
      }
      let wire: WireBar;
      try {
        wire = (await this.ports.decode(message.value)) as WireBar;
      } catch (err) {
        // Anything but a RejectError (registry unreachable, say) is a failing dependency: rethrow.
        if (!isRejectError(err)) throw err;
        item.rejected = { message, code: err.code, reason: err.message };
        continue;
      }
      wires.set(item, wire);
      this.canonicalize(item, message, wire);
      if (item.rejected?.code === 'UNKNOWN_PROVIDER' && wire.provider) unknownProviders.add(wire.provider);
      if (item.rejected?.code === 'UNKNOWN_VENUE' && wire.venue) unknownVenues.add(wire.venue);
    }
    // Names may have been registered since the catalog was loaded: look once, then judge again.
    if (
      (unknownProviders.size > 0 || unknownVenues.size > 0) &&
      (await this.ports.catalog.resolveUnknown([...unknownProviders], [...unknownVenues]))
    ) {
      this.identities.clear();
      for (const item of items) {
        const code = item.rejected?.code;
        if (code === 'UNKNOWN_PROVIDER' || code === 'UNKNOWN_VENUE') {
          item.rejected = undefined;
          this.canonicalize(item, messageOf.get(item)!, wires.get(item)!);
        }
      }
    }
    this.metrics.messages += messages.length;
    return items;
  }

  private canonicalize(item: Item, message: InboundMessage, wire: WireBar): void {
    const exporter = message.headers[EXPORTER_HEADER] ?? '';
    try {
      const bar = canonicalizeBar(
        wire,
        this.ports.catalog,
        this.now(),
        { exporter, defaults: this.ports.exporterDefaults(exporter) },
        this.identities,
      );
      item.accepted = accept(bar, message.timestampMs);
    } catch (err) {
      if (!isRejectError(err)) throw err;
      item.rejected = { message, code: err.code, reason: err.message };
    }
  }

  private schedule(): void {
    if (this.queue.length >= this.options.flushMaxBars) this.kick();
    else if (this.queue.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.options.flushMaxWaitMs);
    }
  }

  /**
   * Starts a flush. Flushes are pipelined two deep: flush N+1 is written while flush N detects
   * its gaps and commits, which overlaps a PostgreSQL write with Redis and Kafka round trips.
   * Commits stay in flush order, and once a flush is given up no later one commits.
   */
  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.kicked) return;
    this.kicked = true;
    this.writing = this.writing.then(async () => {
      this.kicked = false;
      const items = this.queue.splice(0, this.options.flushMaxBars);
      if (items.length === 0 || this.abandoned) return;
      this.inFlight += items.length;
      const flush = new Flush(items, this.now());
      try {
        await this.write(flush);
      } catch (err) {
        this.giveUp(flush, err);
        return;
      }
      const previous = this.finishing;
      this.finishing = previous.then(async () => {
        try {
          if (this.abandoned) return;
          await this.finish(flush);
        } catch (err) {
          this.giveUp(flush, err);
        } finally {
          this.settled(flush);
        }
      });
      // Two deep, no more: the next write waits for the previous flush to finish.
      await previous;
    });
  }

  /** Only a shutdown gets here: nothing of the flush was committed, so Kafka redelivers it. */
  private giveUp(flush: Flush, err: unknown): void {
    if (!this.abandoned) {
      this.log.warn('flush abandoned at shutdown; its messages will be redelivered', {
        messages: flush.items.length,
        err,
      });
    }
    this.abandoned = true;
    this.queue = [];
    this.settled(flush);
  }

  private settled(flush: Flush): void {
    if (flush.settled) return;
    flush.settled = true;
    this.inFlight -= flush.items.length;
    for (const wake of this.flushWaiters.splice(0)) wake();
    this.schedule();
  }

  /** Dead letters acknowledged, series resolved, rows written in one atomic statement. */
  private async write(flush: Flush): Promise<void> {
    const rejected: Rejected[] = [];
    for (const item of flush.items) {
      if (item.accepted) flush.accepted.push(item.accepted);
      else if (item.rejected) rejected.push(item.rejected);
    }

    if (rejected.length > 0) {
      await this.timed(flush.stages, 'dead-letter', () => this.ports.deadLetter(rejected));
      for (const r of rejected) {
        this.metrics.reject(r.code);
        this.log.warn('rejected message', {
          code: r.code,
          reason: r.reason,
          topic: r.message.topic,
          partition: r.message.partition,
          offset: r.message.offset,
        });
      }
    }

    if (flush.accepted.length > 0) {
      const unique = new Map<string, SeriesIdentity>();
      for (const a of flush.accepted) unique.set(a.seriesKey, a.bar);
      const ids = await this.timed(flush.stages, 'resolve-series', () =>
        this.ports.resolveSeries([...unique.values()]),
      );
      flush.seriesIds = ids;
      const { rows, runSpans } = planFlush(flush.accepted, ids);
      const result = await this.timed(flush.stages, 'write', () => this.ports.write(rows, runSpans));
      this.metrics.barsInserted += result.inserted;
      this.metrics.barsCorrected += result.corrected;
      this.metrics.barsUnchanged += flush.accepted.length - result.inserted - result.corrected;
    }
  }

  /** Gap detection, then the offsets: only now is every step of the flush durable. */
  private async finish(flush: Flush): Promise<void> {
    const afterWrite = this.ports.afterWrite?.bind(this.ports);
    const ids = flush.seriesIds;
    if (afterWrite && ids && flush.accepted.length > 0) {
      await this.timed(flush.stages, 'gaps', () => afterWrite(flush.accepted, ids));
    }
    await this.timed(flush.stages, 'commit', () => this.ports.commit(nextOffsets(flush.items.map((i) => i.position))));
    const ms = this.now() - flush.startedMs;
    this.metrics.recordFlush(ms, flush.items.length);
    if (ms >= (this.options.slowFlushMs ?? Infinity)) {
      this.log.warn('slow flush', { ms, messages: flush.items.length, stages: flush.stages });
    }
  }

  private async timed<T>(
    stages: Partial<Record<FlushStage, number>>,
    stage: FlushStage,
    fn: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    try {
      return await this.retrying(stage, fn);
    } finally {
      const ms = performance.now() - started;
      this.metrics.stageMs[stage] += ms;
      stages[stage] = Math.round(ms);
    }
  }

  /** Runs `step` until it succeeds or the worker stops, backing off between failures. */
  private async retrying<T>(step: string, fn: () => Promise<T>): Promise<T> {
    let delay = this.options.retryInitialMs;
    for (;;) {
      try {
        const value = await fn();
        if (this.failingSince !== undefined) {
          this.log.info('dependency recovered', { step, failedForMs: this.now() - this.failingSince });
          this.failingSince = undefined;
        }
        return value;
      } catch (err) {
        if (this.stopping) throw new ShutdownError();
        this.metrics.dependencyFailures += 1;
        this.failingSince ??= this.now();
        this.log.error('dependency failed, retrying', { step, err, retryInMs: delay });
        await sleep(delay);
        delay = Math.min(delay * 2, this.options.retryMaxMs);
      }
    }
  }
}

/** Offsets are decimal strings of int64: compare by length, then digits, with no BigInt per message. */
function offsetAfter(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

/** The offset after the highest message of each partition in a flush. */
export function nextOffsets(positions: readonly Position[]): OffsetToCommit[] {
  const highest = new Map<string, Position>();
  for (const p of positions) {
    const key = `${p.topic}\u0000${p.partition}`;
    const seen = highest.get(key);
    if (!seen || offsetAfter(p.offset, seen.offset)) highest.set(key, p);
  }
  return [...highest.values()].map((p) => ({
    topic: p.topic,
    partition: p.partition,
    offset: (BigInt(p.offset) + 1n).toString(),
  }));
}
