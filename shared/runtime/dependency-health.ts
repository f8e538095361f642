/**
 * What /readyz, /livez and the outage budget are computed from, shared by every worker:
 * - readiness: no dependency is failing right now (a retry loop or a background probe says so);
 * - liveness: the worker made progress recently, or has no work waiting;
 * - the outage budget: a dependency failing without a break for longer than the budget stops the
 *   worker (exit non-zero, offsets intact), so the orchestrator restarts it somewhere healthier.
 */
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
  },
): Promise<T> {
  const delays = backoffDelays(options.initialMs ?? 200, options.maxMs ?? 5_000);
  let failingSince: number | undefined;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!options.isTransient(err)) throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > options.budgetMs) throw err;
      const delay = delays();
      options.onRetry?.(err, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
