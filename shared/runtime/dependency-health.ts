/**
 * What /readyz, /livez and the outage budget are computed from, shared by every worker:
 * - readiness: no dependency is failing right now (a retry loop or a background probe says so);
 * - liveness: the worker made progress recently, or has no work waiting;
 * - the outage budget: a dependency failing without a break for longer than the budget stops the
 *   worker (exit non-zero, offsets intact), so the orchestrator restarts it somewhere healthier.
 * And the retry loops that feed them: `retryDependency` (a worker's step, with readiness and the
 * outage budget) and `retryTransient` (a command's step, with a budget of its own).
 */
import { classifyFailure, describeFailure, EXIT_OUTAGE_BUDGET, FatalError } from './failures';
import type { Logger } from './log';
import { sleep } from './sleep';

export interface HealthOptions {
  /** A worker with work waiting and no progress for this long is not live. */
  livenessTimeoutMs: number;
  /** A dependency failing continuously for this long ends the worker. */
  outageBudgetMs: number;
  now?: () => number;
}

export interface HealthReport {
  ready: boolean;
  live: boolean;
  /** Dependencies failing now, with the reason and since when. */
  failing: Record<string, { sinceMs: number; reason: string }>;
  failingForMs: number;
  msSinceProgress: number;
  workWaiting: boolean;
}

export class DependencyHealth {
  private readonly failing = new Map<string, { sinceMs: number; reason: string }>();
  private lastProgressMs: number;
  private workWaiting: () => boolean = () => false;
  private started = false;
  private readonly now: () => number;

  constructor(private readonly options: HealthOptions) {
    this.now = options.now ?? Date.now;
    this.lastProgressMs = this.now();
  }

  /** Ready from now on (until a dependency fails): the worker has connected and subscribed. */
  markStarted(): void {
    this.started = true;
    this.lastProgressMs = this.now();
  }

  /** Tells liveness whether work is waiting (queued or in flight). */
  watchWork(waiting: () => boolean): void {
    this.workWaiting = waiting;
  }

  progressed(): void {
    this.lastProgressMs = this.now();
  }

  failed(dependency: string, reason: string): void {
    const seen = this.failing.get(dependency);
    this.failing.set(dependency, { sinceMs: seen?.sinceMs ?? this.now(), reason });
  }

  recovered(dependency: string): number | undefined {
    const seen = this.failing.get(dependency);
    this.failing.delete(dependency);
    return seen === undefined ? undefined : this.now() - seen.sinceMs;
  }

  /** How long the longest ongoing failure has lasted (0 when nothing fails). */
  failingForMs(): number {
    let oldest = Infinity;
    for (const f of this.failing.values()) oldest = Math.min(oldest, f.sinceMs);
    return oldest === Infinity ? 0 : this.now() - oldest;
  }

  /** True once a dependency has failed without a break for longer than the outage budget. */
  outageBudgetSpent(): boolean {
    return this.failing.size > 0 && this.failingForMs() > this.options.outageBudgetMs;
  }

  report(): HealthReport {
    const msSinceProgress = this.now() - this.lastProgressMs;
    const workWaiting = this.workWaiting();
    return {
      ready: this.started && this.failing.size === 0,
      live: !(workWaiting && msSinceProgress > this.options.livenessTimeoutMs),
      failing: Object.fromEntries(this.failing),
      failingForMs: this.failingForMs(),
      msSinceProgress,
      workWaiting,
    };
  }
}

/** Exponential backoff with equal jitter: half the delay fixed, half random, so a fleet does not retry in step. */
export function backoffDelays(initialMs: number, maxMs: number, random: () => number = Math.random): () => number {
  let ceiling = initialMs;
  return () => {
    const delay = ceiling / 2 + (random() * ceiling) / 2;
    ceiling = Math.min(ceiling * 2, maxMs);
    return Math.round(delay);
  };
}

/** Waits between attempts; a parameter so that unit tests need not wait. */
type Wait = (ms: number) => Promise<void>;

/**
 * The loop under both retry helpers: runs `fn` until it succeeds; after each failure `failed`
 * either throws (no more retries) or lets the loop wait the next backoff delay and try again.
 */
async function retryLoop<T>(
  fn: () => Promise<T>,
  delays: () => number,
  failed: (err: unknown, delayMs: number) => void,
  wait: Wait,
): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const delay = delays();
      failed(err, delay);
      await wait(delay);
    }
  }
}

/**
 * Runs `fn`, retrying transient failures (as `isTransient` says) with backoff and jitter until it
 * succeeds or they have lasted `budgetMs`; anything else, or the last failure, is thrown.
 */
export async function retryTransient<T>(
  fn: () => Promise<T>,
  options: {
    isTransient: (err: unknown) => boolean;
    budgetMs: number;
    initialMs?: number;
    maxMs?: number;
    onRetry?: (err: unknown, delayMs: number) => void;
    wait?: Wait;
  },
): Promise<T> {
  let failingSince: number | undefined;
  return retryLoop(
    fn,
    backoffDelays(options.initialMs ?? 200, options.maxMs ?? 5_000),
    (err, delay) => {
      if (!options.isTransient(err)) throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > options.budgetMs) throw err;
      options.onRetry?.(err, delay);
    },
    options.wait ?? sleep,
  );
}

/** Thrown by retryDependency when the worker is stopping: the step is abandoned, not failed. */
export class RetryAbandoned extends Error {
  constructor(readonly step: string) {
    super(`${step}: abandoned, the worker is stopping`);
  }
}

export interface DependencyRetryOptions {
  /** Readiness and the worker-wide outage budget: the step is marked failing, then recovered. */
  health: DependencyHealth;
  /** Backoff: exponential with equal jitter, from `initialMs` up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  log: Logger;
  /** The level of the "dependency failed, retrying" line (default warn). */
  logLevel?: 'warn' | 'error';
  /** Checked after each failure: while stopping, the step gives up at once (RetryAbandoned). */
  isStopping?: () => boolean;
  /** Each failure that will be retried (metrics). */
  onRetry?: (step: string, err: unknown, delayMs: number) => void;
  wait?: Wait;
}

/**
 * A worker's step against a dependency, run until it succeeds. Only transient failures
 * (shared/runtime/failures.ts) are retried, with backoff and jitter; anything else is thrown
 * as it is, for the caller to classify. While it fails the worker is not ready (`health`); once
 * a dependency has failed without a break past the outage budget a FatalError with
 * EXIT_OUTAGE_BUDGET is thrown; when the worker is stopping, RetryAbandoned.
 */
export async function retryDependency<T>(
  step: string,
  fn: () => Promise<T>,
  options: DependencyRetryOptions,
): Promise<T> {
  const { health, log } = options;
  const value = await retryLoop(
    fn,
    backoffDelays(options.initialMs, options.maxMs),
    (err, delay) => {
      if (classifyFailure(err) !== 'transient') throw err;
      if (options.isStopping?.()) throw new RetryAbandoned(step);
      options.onRetry?.(step, err, delay);
      health.failed(step, describeFailure(err));
      if (health.outageBudgetSpent()) {
        throw new FatalError(
          `a dependency has failed for ${Math.round(health.failingForMs() / 1000)} s, past the outage budget (BI_OUTAGE_BUDGET_MS): ${describeFailure(err)}`,
          err,
          EXIT_OUTAGE_BUDGET,
        );
      }
      log[options.logLevel ?? 'warn']('dependency failed, retrying', {
        step,
        err: describeFailure(err),
        retryInMs: delay,
      });
    },
    options.wait ?? sleep,
  );
  const failedForMs = health.recovered(step);
  if (failedForMs !== undefined) log.info('dependency recovered', { step, failedForMs });
  return value;
}
