import type { DeadLetter } from '../../shared/adapters/dead-letters';
import type { KafkaRecord } from '../../shared/contract';
import type { RejectCode } from '../../shared/domain/errors';
import { DependencyHealth, retryDependency, RetryAbandoned } from '../../shared/runtime/dependency-health';
import {
  classifyFailure,
  describeFailure,
  EXIT_OUTAGE_BUDGET,
  FailureClass,
  FatalError,
  commitUnlessRebalanced,
} from '../../shared/runtime/failures';
import type { Logger } from '../../shared/runtime/log';

export type ContinuityMessage = KafkaRecord;

export interface MessagePorts {
  decode(value: Buffer, topic: string): Promise<unknown>;
  /** Applies one decoded message; bad input throws a RejectError. Must be idempotent. */
  handle(topic: string, decoded: unknown): Promise<void>;
  /** Resolves once the broker acknowledged the dead letter. */
  deadLetter(letter: DeadLetter): Promise<void>;
  commit(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void>;
}

export interface HandlerOptions {
  health: DependencyHealth;
  maxMessageBytes: number;
  retryInitialMs: number;
  retryMaxMs: number;
  isStopping(): boolean;
  onDependencyFailure?(step: string): void;
}

export type Outcome = 'handled' | 'dead-lettered' | 'stopped' | 'fatal';

/**
 * The continuity worker's message loop, under the same failure rules as the ingest worker: each
 * message is applied, or dead-lettered with a code when it is bad input (or when handling it
 * fails on something only it causes), and only then is its offset committed. A failing
 * dependency (the registry, PostgreSQL, the broker) is retried with backoff and jitter until it
 * answers: nothing is skipped, and nothing is committed past what is stored.
 */
export class MessageHandler {
  handled = 0;
  deadLettered = 0;
  onFatal: (err: FatalError) => void = () => undefined;
  private epoch = 0;
  private fatal = false;

  constructor(
    private readonly ports: MessagePorts,
    private readonly options: HandlerOptions,
    private readonly log: Logger,
  ) {}

  /** After a rebalance, offsets of messages fetched before it are not committed (they are redelivered). */
  rebalanced(): void {
    this.epoch += 1;
  }

  /** `heartbeat` keeps the group membership alive while a failing dependency is waited out. */
  async handle(message: ContinuityMessage, heartbeat: () => Promise<void> = async () => undefined): Promise<Outcome> {
    if (this.fatal) return 'fatal';
    const epoch = this.epoch;
    const { health } = this.options;
    health.watchWork(() => true);
    const beat = setInterval(() => heartbeat().catch(() => undefined), 2_000);
    try {
      const rejected = await this.retrying('handle', () => this.apply(message));
      if (rejected) await this.retrying('dead-letter', () => this.ports.deadLetter(rejected));
      await this.retrying('commit', () => this.commit(message, epoch));
      health.progressed();
      if (rejected) this.deadLettered += 1;
      else this.handled += 1;
      return rejected ? 'dead-lettered' : 'handled';
    } catch (err) {
      if (err instanceof RetryAbandoned) return 'stopped';
      this.fail(err);
      return 'fatal';
    } finally {
      clearInterval(beat);
      health.watchWork(() => false);
    }
  }

  /** A backfill round failed: a failing dependency is waited out; anything else stops the worker loudly. */
  tickFailed(err: unknown): void {
    if (classifyFailure(err) === 'transient') {
      this.options.health.failed('backfill', describeFailure(err));
      this.log.warn('backfill round failed; will retry', { err: describeFailure(err) });
      if (this.options.health.outageBudgetSpent()) {
        this.fail(new FatalError('the backfill rounds have failed past the outage budget', err, EXIT_OUTAGE_BUDGET));
      }
      return;
    }
    this.fail(err);
  }

  private fail(err: unknown): void {
    if (this.fatal) return;
    this.fatal = true;
    const fatal = err instanceof FatalError ? err : new FatalError(`unexpected failure: ${describeFailure(err)}`, err);
    this.log.error('stopping: the worker cannot go on safely; nothing past what is stored was committed', {
      reason: fatal.message,
    });
    this.onFatal(fatal);
  }

  /** Applies the message; returns the dead letter to send instead when it is at fault. */
  private async apply(message: ContinuityMessage): Promise<DeadLetter | undefined> {
    const { value } = message;
    if (value === null || value.length === 0) return this.letter(message, 'DECODE_FAILED', 'message has no value');
    if (value.length > this.options.maxMessageBytes) {
      return this.letter(
        message,
        'MESSAGE_TOO_LARGE',
        `message value is ${value.length} bytes, more than the ${this.options.maxMessageBytes} allowed (BI_MAX_MESSAGE_BYTES)`,
      );
    }
    try {
      const decoded = await this.ports.decode(value, message.topic);
      await this.ports.handle(message.topic, decoded);
      return undefined;
    } catch (err) {
      const failure = classifyFailure(err);
      if (failure === 'transient' || failure === 'fatal') throw err;
      return this.rejection(message, err, failure);
    }
  }

  private rejection(message: ContinuityMessage, err: unknown, failure: FailureClass): DeadLetter {
    if (failure === 'bad-input') {
      const reject = err as { code: RejectCode; message: string };
      return this.letter(message, reject.code, reject.message);
    }
    if (failure === 'data')
      return this.letter(message, 'DB_REJECTED', `PostgreSQL refused it: ${describeFailure(err)}`);
    return this.letter(
      message,
      'INTERNAL_ERROR',
      `the worker failed on this message (a bug or an input nobody foresaw): ${describeFailure(err)}`,
    );
  }

  private letter(message: ContinuityMessage, code: RejectCode, reason: string): DeadLetter {
    return { message, code, reason };
  }

  private async commit(message: ContinuityMessage, epoch: number): Promise<void> {
    if (epoch !== this.epoch) return;
    const next = (BigInt(message.offset) + 1n).toString();
    await commitUnlessRebalanced(
      () => this.ports.commit([{ topic: message.topic, partition: message.partition, offset: next }]),
      this.log,
    );
  }

  private retrying<T>(step: string, fn: () => Promise<T>): Promise<T> {
    return retryDependency(step, fn, {
      health: this.options.health,
      initialMs: this.options.retryInitialMs,
      maxMs: this.options.retryMaxMs,
      log: this.log,
      isStopping: this.options.isStopping,
      onRetry: this.options.onDependencyFailure,
    });
  }
}
