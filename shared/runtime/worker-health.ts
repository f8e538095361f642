/**
 * The health side of every worker, wired once: background probes of its dependencies (so /readyz
 * fails during an outage even while the worker has nothing to do), the outage budget, and the
 * HTTP server for /livez, /readyz, /healthz and /metrics.
 */
import type http from 'node:http';
import type { Registry } from 'prom-client';
import { DependencyHealth } from './dependency-health';
import { describeFailure, EXIT_OUTAGE_BUDGET, FatalError } from './failures';
import type { HealthSettings } from './health-settings';
import type { Logger } from './log';
import { serveHealth } from './process';

export interface Probe {
  name: string;
  check(): Promise<unknown>;
}

export interface WorkerHealth {
  server: http.Server | undefined;
  stop(): void;
}

const PROBE_TIMEOUT_MS = 3_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what} did not answer in ${ms} ms`), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function startWorkerHealth(options: {
  settings: HealthSettings;
  health: DependencyHealth;
  registry: Registry;
  probes: Probe[];
  details: () => Record<string, unknown>;
  log: Logger;
  onFatal: (err: FatalError) => void;
}): Promise<WorkerHealth> {
  const { settings, health, probes, log } = options;
  let probing = false;
  const probeTimer = setInterval(() => {
    if (probing) return;
    probing = true;
    Promise.all(
      probes.map(async (p) => {
        try {
          await withTimeout(p.check(), PROBE_TIMEOUT_MS, p.name);
          const failedForMs = health.recovered(p.name);
          if (failedForMs !== undefined) log.info('dependency answers again', { dependency: p.name, failedForMs });
        } catch (err) {
          health.failed(p.name, describeFailure(err));
        }
      }),
    ).finally(() => (probing = false));
  }, settings.probeEveryMs);
  probeTimer.unref();

  let budgetSpent = false;
  const budgetTimer = setInterval(() => {
    if (budgetSpent || !health.outageBudgetSpent()) return;
    budgetSpent = true;
    const failing = Object.entries(health.report().failing)
      .map(([name, f]) => `${name}: ${f.reason}`)
      .join('; ');
    options.onFatal(
      new FatalError(
        `dependencies failing for ${Math.round(health.failingForMs() / 1000)} s, past the outage budget (BI_OUTAGE_BUDGET_MS): ${failing}`,
        undefined,
        EXIT_OUTAGE_BUDGET,
      ),
    );
  }, 1_000);
  budgetTimer.unref();

  const server = await serveHealth(
    { host: settings.host, port: settings.port },
    {
      report: () => health.report(),
      details: options.details,
      metrics: () => options.registry.metrics(),
      metricsContentType: options.registry.contentType,
    },
  );
  return {
    server,
    stop() {
      clearInterval(probeTimer);
      clearInterval(budgetTimer);
      server?.close();
    },
  };
}

/** What a worker's entry point does with a fatal error: one clear line, then exit with its code. */
export function exitOnFatal(log: Logger): (err: FatalError) => void {
  return (err) => {
    log.error('worker stopping', { reason: err.message, exitCode: err.exitCode });
    // Let the log line out before the process ends.
    setTimeout(() => process.exit(err.exitCode), 100);
  };
}
