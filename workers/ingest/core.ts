import {
  BarChecks,
  canonicalizeBar,
  Catalog,
  checkClockSkew,
  DEFAULT_BAR_CHECKS,
  ExporterDefaults,
  IdentityCache,
  WireBar,
} from '../../shared/domain/bar';
import { EXPORTER_HEADER, KafkaRecord } from '../../shared/contract';
import { RejectCode } from '../../shared/domain/errors';
import { accept, AcceptedBar, BarRow, planFlush, RunSpan, WriteResult } from '../../shared/domain/flush';
import type { SeriesIdentity } from '../../shared/domain/series';
import {
  DependencyHealth,
  HealthReport,
  RetryAbandoned,
  retryDependency,
} from '../../shared/runtime/dependency-health';
import {
  classifyFailure,
  describeFailure,
  FailureClass,
  FatalError,
  commitUnlessRebalanced,
} from '../../shared/runtime/failures';
import { crashPoint } from '../../shared/runtime/crash-points';
import type { Logger } from '../../shared/runtime/log';
import { FlushStage, IngestMetrics } from './metrics';

/** A Kafka record as the core sees it, free of any client library's types. */
export type InboundMessage = KafkaRecord;

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

/** Everything the core needs from the outside world, as small functions. */
export interface IngestPorts {
  /** Decodes a value; only schemas registered for `topic` are accepted. */
  decode(value: Buffer, topic: string): Promise<unknown>;
  /**
   * The same, synchronously, when it needs no registry call (the schema and its subject are
   * known), else undefined. The per-message hot path: no promise per message.
   */
  decodeKnown?(value: Buffer, topic: string): unknown;
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
  flushMaxMessages: number;
  /** ...or when the oldest waiting message has waited this long. */
  flushMaxWaitMs: number;
  /**
   * Back-pressure: a partition's batch is not accepted while this many messages wait, which
   * bounds memory and pauses consumption while a dependency is failing.
   */
  maxPendingMessages: number;
  /** Retry delays for failing dependencies: exponential with jitter, up to the max. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** A message value larger than this is rejected before decoding. */
  maxMessageBytes?: number;
  /** How far a message's CreateTime may run ahead of this worker's clock. */
  maxClockSkewMs?: number;
  barChecks?: BarChecks;
  /** A flush that takes longer is logged with the time of each stage. */
  slowFlushMs?: number;
  /** Readiness, liveness and the outage budget; the worker's probes read the same object. */
  health?: DependencyHealth;
  /**
   * Called once when the worker must stop loudly: the outage budget is spent, or an error no
   * message can be blamed for. Nothing past what is durable was committed.
   */
  onFatal?: (err: FatalError) => void;
  now?: () => number;
}

/** Where the flush pipeline is; `/healthz` shows it and the unit tests follow it. */
export type PipelineState = 'idle' | 'collecting' | 'writing' | 'retrying' | 'stopping' | 'failed';

/**
 * A queued message. It keeps its Kafka record so that a message found at fault only when its row
 * is written (DB_REJECTED) can still be dead-lettered with its original bytes; fetches are
 * bounded (BI_FETCH_MAX_BYTES), so what this keeps alive is bounded too.
 */
interface Item {
  message: InboundMessage;
  /** The consumer generation the message was fetched in (see IngestCore.rebalanced). */
  epoch: number;
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
  /** Accepted bars whose rows are committed (offenders found while writing are not among them). */
  readonly written: AcceptedBar[] = [];
  readonly seriesIds = new Map<string, number>();
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

/** A message the write could not store, with why. */
interface Offender {
  item: Item;
  failure: FailureClass;
  reason: string;
}

const yieldToIo = (): Promise<void> => new Promise((r) => setImmediate(r));
const DECODE_SLICE = 256;

/**
 * The ingest worker's logic: decode, canonicalize and validate each message, batch across
 * partitions, then per flush: dead letters acknowledged, rows written in one atomic statement, gap
 * detection, and only then the offsets committed.
 *
 * Failures follow shared/runtime/failures.ts: bad input is dead-lettered; a failing dependency is
 * retried with backoff and jitter (not ready meanwhile, nothing committed past what is durable,
 * stop after the outage budget); a row PostgreSQL refuses is isolated by splitting the flush and
 * dead-lettered as DB_REJECTED; an error while judging one message is that message's fault
 * (INTERNAL_ERROR); an error no message can be blamed for stops the worker loudly.
 */
export class IngestCore {
  readonly metrics: IngestMetrics;
  readonly dependencyHealth: DependencyHealth;
  private queue: Item[] = [];
  private inFlight = 0;
  /** Flushes write one after another on this chain... */
  private writing: Promise<void> = Promise.resolve();
  /** ...and finish (gap detection, offset commit) one after another on this one. */
  private finishing: Promise<void> = Promise.resolve();
  /** Set when a flush was given up (shutdown or fatal): no later flush may commit past it. */
  private abandoned = false;
  private kicked = false;
  /** Flushes kicked and not yet through their write (0: the writer is free). */
  private writers = 0;
  private soon: NodeJS.Immediate | undefined;
  private flushWaiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private fatal: FatalError | undefined;
  private retryLoops = 0;
  private epoch = 0;
  private readonly now: () => number;
  private readonly identities = new IdentityCache();

  constructor(
    private readonly ports: IngestPorts,
    private readonly options: IngestOptions,
    private readonly log: Logger,
    metrics?: IngestMetrics,
  ) {
    this.now = options.now ?? Date.now;
    this.metrics = metrics ?? new IngestMetrics();
    if (!options.health) {
      this.dependencyHealth = new DependencyHealth({
        livenessTimeoutMs: 600_000,
        outageBudgetMs: Infinity,
        now: this.now,
      });
      this.dependencyHealth.markStarted();
    } else this.dependencyHealth = options.health;
    this.dependencyHealth.watchWork(() => this.queue.length + this.inFlight > 0);
  }

  /** Messages consumed and not yet committed (queued or in a flush). */
  get waiting(): number {
    return this.queue.length + this.inFlight;
  }

  get state(): PipelineState {
    if (this.fatal) return 'failed';
    if (this.stopping) return 'stopping';
    if (this.retryLoops > 0) return 'retrying';
    if (this.inFlight > 0) return 'writing';
    if (this.queue.length > 0) return 'collecting';
    return 'idle';
  }

  /** Readiness and liveness as the probes see them, and where the pipeline is. */
  health(): HealthReport & { healthy: boolean; state: PipelineState } {
    const report = this.dependencyHealth.report();
    return { ...report, healthy: report.ready, state: this.state };
  }

  /**
   * The consumer group rebalanced: messages fetched before are still written (writes are
   * idempotent), but their offsets are never committed, because the partition may have been
   * consumed further by another member meanwhile, and a commit from before the rebalance would
   * move its offset backwards. Kafka redelivers from the last committed offset instead.
   */
  rebalanced(): void {
    this.epoch += 1;
  }

  /**
   * Takes one partition's batch. Resolves once the batch is queued for a flush and the queue is
   * below its high-water mark: the consumer may then fetch more, so one flush can span many
   * fetches and partitions. Durability is not the caller's concern: offsets are committed by the
   * flush, only after the rows and dead letters it carries are durable. `heartbeat` keeps the
   * group membership alive while back-pressure holds the batch.
   */
  async submit(messages: InboundMessage[], heartbeat: () => Promise<void> = async () => undefined): Promise<void> {
    if (messages.length === 0 || this.fatal) return;
    const epoch = this.epoch;
    const beat = setInterval(() => heartbeat().catch(() => undefined), 2_000);
    try {
      const items = await this.retrying('decode', () => this.prepare(messages, epoch));
      this.dependencyHealth.progressed();
      this.queue.push(...items);
      this.schedule();
      while (!this.stopping && !this.fatal && this.queue.length + this.inFlight >= this.options.maxPendingMessages) {
        await this.nextFlush();
      }
    } catch (err) {
      if (!(err instanceof ShutdownError)) this.fail(err);
    } finally {
      clearInterval(beat);
    }
  }

  /** Resolves when nothing is queued or being flushed. */
  async idle(): Promise<void> {
    while ((this.queue.length > 0 || this.inFlight > 0) && !this.fatal) {
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

  /** Stops the pipeline for good and tells the owner, once. */
  private fail(err: unknown): void {
    if (this.fatal) return;
    this.fatal = err instanceof FatalError ? err : new FatalError(`unexpected failure: ${describeFailure(err)}`, err);
    this.abandoned = true;
    this.queue = [];
    this.log.error('stopping: the worker cannot go on safely; nothing past what is stored was committed', {
      reason: this.fatal.message,
      err: this.fatal.cause,
    });
    for (const wake of this.flushWaiters.splice(0)) wake();
    this.options.onFatal?.(this.fatal);
  }

  private async prepare(messages: InboundMessage[], epoch: number): Promise<Item[]> {
    const items: Item[] = [];
    const unknownProviders = new Set<string>();
    const unknownVenues = new Set<string>();
    /** Messages rejected for a name the catalog did not know, judged again if it learns it. */
    const unknownNames: Array<[Item, WireBar]> = [];
    const maxBytes = this.options.maxMessageBytes ?? Infinity;
    for (let n = 0; n < messages.length; n++) {
      const message = messages[n]!;
      // Let I/O through between slices of a large batch: a flush waiting on PostgreSQL must not
      // wait for the decoding of a whole fetch as well.
      if (n > 0 && n % DECODE_SLICE === 0) await yieldToIo();
      const item: Item = { message, epoch };
      items.push(item);
      if (message.value === null || message.value.length === 0) {
        item.rejected = { message, code: 'DECODE_FAILED', reason: 'message has no value (empty or tombstone)' };
        continue;
      }
      if (message.value.length > maxBytes) {
        item.rejected = {
          message,
          code: 'MESSAGE_TOO_LARGE',
          reason: `message value is ${message.value.length} bytes, more than the ${maxBytes} allowed (BI_MAX_MESSAGE_BYTES); a bar is about 100`,
        };
        continue;
      }
      let wire: WireBar;
      try {
        wire = (this.ports.decodeKnown?.(message.value, message.topic) ??
          (await this.ports.decode(message.value, message.topic))) as WireBar;
      } catch (err) {
        const failure = classifyFailure(err);
        // A failing registry is retried with the whole batch; a fatal answer stops the worker.
        if (failure === 'transient') throw err;
        if (failure === 'fatal') throw new FatalError(`the schema registry refused us: ${describeFailure(err)}`, err);
        item.rejected = this.rejection(message, err, failure);
        continue;
      }
      this.canonicalize(item, wire);
      const code = item.rejected?.code;
      if (code === 'UNKNOWN_PROVIDER' || code === 'UNKNOWN_VENUE') {
        unknownNames.push([item, wire]);
        if (code === 'UNKNOWN_PROVIDER' && typeof wire.provider === 'string') unknownProviders.add(wire.provider);
        if (code === 'UNKNOWN_VENUE' && typeof wire.venue === 'string') unknownVenues.add(wire.venue);
      }
    }
    // Names may have been registered since the catalog was loaded: look once, then judge again.
    if (
      (unknownProviders.size > 0 || unknownVenues.size > 0) &&
      (await this.ports.catalog.resolveUnknown([...unknownProviders], [...unknownVenues]))
    ) {
      this.identities.clear();
      for (const [item, wire] of unknownNames) {
        item.rejected = undefined;
        this.canonicalize(item, wire);
      }
    }
    this.metrics.consumed(messages.length);
    return items;
  }

  /** Bad input keeps its code; anything else met while judging one message is that message's fault. */
  private rejection(message: InboundMessage, err: unknown, failure: FailureClass): Rejected {
    if (failure === 'bad-input') {
      const reject = err as { code: RejectCode; message: string };
      return { message, code: reject.code, reason: reject.message };
    }
    return {
      message,
      code: 'INTERNAL_ERROR',
      reason: `the worker failed on this message (a bug or an input nobody foresaw): ${describeFailure(err)}`,
    };
  }

  /** Pure checks of one decoded message; it does no I/O, so any error is the message's own. */
  private canonicalize(item: Item, wire: WireBar): void {
    const { message } = item;
    try {
      const now = this.now();
      checkClockSkew(message.timestampMs, now, this.options.maxClockSkewMs ?? Infinity);
      const bar = canonicalizeBar(
        wire,
        this.ports.catalog,
        now,
        wire.provider == null || wire.venue == null ? this.legacySender(message) : undefined,
        this.identities,
        this.options.barChecks ?? DEFAULT_BAR_CHECKS,
      );
      item.accepted = accept(bar, message.timestampMs);
    } catch (err) {
      const failure = classifyFailure(err);
      item.rejected = this.rejection(message, err, failure === 'bad-input' ? failure : 'bug');
    }
  }

  /** Who sent a legacy bar (one without provider or venue), and the defaults configured for it. */
  private legacySender(message: InboundMessage): { exporter: string; defaults: ExporterDefaults | undefined } {
    const exporter = message.headers[EXPORTER_HEADER] ?? '';
    return { exporter, defaults: this.ports.exporterDefaults(exporter) };
  }

  /**
   * Adaptive batching, as group commit does: when no flush is being written, what is queued is
   * written at once (after the batches decoded in this turn of the event loop joined it); while
   * one is, messages gather for the next. So a quiet stream is written with little delay and a
   * busy one in large statements, with no flush size to tune: the count and the timer are only
   * upper bounds.
   */
  private schedule(): void {
    if (this.queue.length === 0) return;
    if (this.queue.length >= this.options.flushMaxMessages) this.kick();
    else if (this.writers === 0) this.kickSoon();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.options.flushMaxWaitMs);
    }
  }

  /** Kicks after pending I/O callbacks ran: the other partitions' batches of a fetch join the flush. */
  private kickSoon(): void {
    if (this.soon) return;
    this.soon = setImmediate(() => {
      this.soon = undefined;
      this.kick();
    });
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
    this.writers += 1;
    this.writing = this.writing.then(async () => {
      try {
        await this.flushNext();
      } finally {
        this.writers -= 1;
        // The writer is free: whatever gathered meanwhile is the next flush.
        if (!this.abandoned) this.schedule();
      }
    });
  }

  /** Writes the next flush, then hands it to the finishing chain once the flush before it is done. */
  private async flushNext(): Promise<void> {
    this.kicked = false;
    const items = this.queue.splice(0, this.options.flushMaxMessages);
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
  }

  /**
   * A flush that cannot complete: at shutdown Kafka redelivers it to the next owner; anything
   * else stops the worker loudly. Either way nothing of it, nor of any later flush, is committed.
   */
  private giveUp(flush: Flush, err: unknown): void {
    if (err instanceof ShutdownError) {
      if (!this.abandoned) {
        this.log.warn('flush abandoned at shutdown; its messages will be redelivered', {
          messages: flush.items.length,
        });
      }
      this.abandoned = true;
      this.queue = [];
    } else this.fail(err);
    this.settled(flush);
  }

  private settled(flush: Flush): void {
    if (flush.settled) return;
    flush.settled = true;
    this.inFlight -= flush.items.length;
    for (const wake of this.flushWaiters.splice(0)) wake();
    this.schedule();
  }

  /** Dead letters acknowledged, then the accepted rows written, isolating any PostgreSQL refuses. */
  private async write(flush: Flush): Promise<void> {
    const rejected: Rejected[] = [];
    const accepted: Item[] = [];
    for (const item of flush.items) {
      if (item.accepted) accepted.push(item);
      else if (item.rejected) rejected.push(item.rejected);
    }
    await this.deadLetter(flush, rejected);
    if (accepted.length === 0) return;

    const offenders: Offender[] = [];
    await this.writeIsolating(flush, accepted, offenders);
    if (offenders.length === 0) return;
    // Every message failing alike is no message's fault: a bug or the deployment. Stop loudly
    // rather than dead-letter the whole stream.
    if (offenders.length === accepted.length && accepted.length > 1 && offenders.every((o) => o.failure === 'bug')) {
      throw new FatalError(`every message of a flush failed to write: ${offenders[0]!.reason}`);
    }
    await this.deadLetter(
      flush,
      offenders.map(({ item, failure, reason }) => ({
        message: item.message,
        code: failure === 'data' ? 'DB_REJECTED' : 'INTERNAL_ERROR',
        reason:
          failure === 'data'
            ? `PostgreSQL refused this bar's row: ${reason}`
            : `the worker failed to write this bar (a bug or an input nobody foresaw): ${reason}`,
      })),
    );
  }

  private async deadLetter(flush: Flush, rejected: Rejected[]): Promise<void> {
    if (rejected.length === 0) return;
    await this.step(flush.stages, 'dead-letter', () => this.ports.deadLetter(rejected));
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

  /**
   * Writes `items`; when PostgreSQL refuses them for their data (or the write fails on something
   * only some messages cause), splits them in halves until each offender stands alone, as Kafka
   * Connect's errant-record reporting does. What can be written is written: each half commits on
   * its own, and the version guard in the statement keeps the latest version whatever the order.
   */
  private async writeIsolating(flush: Flush, items: Item[], offenders: Offender[]): Promise<void> {
    try {
      await this.writeRows(flush, items);
    } catch (err) {
      if (err instanceof ShutdownError || err instanceof FatalError) throw err;
      const failure = classifyFailure(err);
      if (failure === 'fatal') {
        throw new FatalError(
          `PostgreSQL refused the write for a reason no message can cause: ${describeFailure(err)}`,
          err,
        );
      }
      if (items.length === 1) {
        offenders.push({ item: items[0]!, failure, reason: describeFailure(err) });
        return;
      }
      const half = items.length >>> 1;
      await this.writeIsolating(flush, items.slice(0, half), offenders);
      await this.writeIsolating(flush, items.slice(half), offenders);
    }
  }

  /** Series resolved and rows written in one atomic statement (a failing dependency is retried). */
  private async writeRows(flush: Flush, items: Item[]): Promise<void> {
    const accepted = items.map((i) => i.accepted!);
    const unique = new Map<string, SeriesIdentity>();
    for (const a of accepted) unique.set(a.seriesKey, a.bar);
    const ids = await this.step(flush.stages, 'resolve-series', () => this.ports.resolveSeries([...unique.values()]));
    const { rows, runSpans } = planFlush(accepted, ids);
    const result = await this.step(flush.stages, 'write', () => this.ports.write(rows, runSpans));
    this.metrics.written(result.inserted, result.corrected, accepted.length - result.inserted - result.corrected);
    for (const key of unique.keys()) flush.seriesIds.set(key, ids.get(key)!);
    flush.written.push(...accepted);
  }

  /** Gap detection, then the offsets: only now is every step of the flush durable. */
  private async finish(flush: Flush): Promise<void> {
    const afterWrite = this.ports.afterWrite?.bind(this.ports);
    if (afterWrite && flush.written.length > 0) {
      crashPoint('bars-committed');
      await this.step(flush.stages, 'gaps', () => afterWrite(flush.written, flush.seriesIds));
      crashPoint('gap-events-marked');
    }
    await this.step(flush.stages, 'commit', () => this.commitCurrent(flush));
    this.dependencyHealth.progressed();
    const ms = this.now() - flush.startedMs;
    this.metrics.recordFlush(ms, flush.items.length);
    if (ms >= (this.options.slowFlushMs ?? Infinity)) {
      this.log.warn('slow flush', { ms, messages: flush.items.length, stages: flush.stages });
    }
  }

  /**
   * Commits the offsets of the flush's messages fetched in the current consumer generation. A
   * commit the group refuses because it is rebalancing is dropped, not retried after rejoining
   * (that retry is how committed offsets move backwards): the messages are redelivered instead.
   */
  private async commitCurrent(flush: Flush): Promise<void> {
    const current = flush.items.filter((i) => i.epoch === this.epoch);
    if (current.length < flush.items.length) {
      this.log.info('not committing offsets fetched before a rebalance; Kafka redelivers them', {
        messages: flush.items.length - current.length,
      });
    }
    if (current.length === 0) return;
    await commitUnlessRebalanced(() => this.ports.commit(nextOffsets(current.map((i) => i.message))), this.log);
    crashPoint('offsets-committed');
  }

  /** One step of a flush: retried while a dependency fails (see retrying), and timed per stage. */
  private async step<T>(
    stages: Partial<Record<FlushStage, number>>,
    stage: FlushStage,
    fn: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    try {
      return await this.retrying(stage, fn);
    } finally {
      const ms = performance.now() - started;
      this.metrics.stage(stage, ms);
      stages[stage] = Math.round(ms);
    }
  }

  /**
   * Runs `step` until it succeeds, backing off with jitter while a dependency fails
   * (retryDependency: only transient failures are retried; past the outage budget the worker stops
   * loudly). At shutdown it gives up at once, and the flush is redelivered to the next owner.
   */
  private async retrying<T>(step: string, fn: () => Promise<T>): Promise<T> {
    let looping = false;
    try {
      return await retryDependency(step, fn, {
        health: this.dependencyHealth,
        initialMs: this.options.retryInitialMs,
        maxMs: this.options.retryMaxMs,
        log: this.log,
        logLevel: 'error',
        isStopping: () => this.stopping,
        onRetry: (failing) => {
          if (!looping) {
            looping = true;
            this.retryLoops += 1;
          }
          this.metrics.dependencyFailed(failing);
        },
      });
    } catch (err) {
      throw err instanceof RetryAbandoned ? new ShutdownError() : err;
    } finally {
      if (looping) this.retryLoops -= 1;
    }
  }
}

/** Offsets are decimal strings of int64: compare by length, then digits, with no BigInt per message. */
function offsetAfter(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

/** The offset after the highest message of each partition in a flush. */
export function nextOffsets(positions: readonly Position[]): OffsetToCommit[] {
  // By topic, then partition: no key string built per message.
  const highest = new Map<string, Map<number, string>>();
  for (const p of positions) {
    let ofTopic = highest.get(p.topic);
    if (!ofTopic) highest.set(p.topic, (ofTopic = new Map()));
    const seen = ofTopic.get(p.partition);
    if (seen === undefined || offsetAfter(p.offset, seen)) ofTopic.set(p.partition, p.offset);
  }
  const out: OffsetToCommit[] = [];
  for (const [topic, ofTopic] of highest) {
    for (const [partition, offset] of ofTopic) out.push({ topic, partition, offset: (BigInt(offset) + 1n).toString() });
  }
  return out;
}
