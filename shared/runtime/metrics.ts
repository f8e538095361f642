/**
 * Prometheus metrics through prom-client, the client the Node ecosystem uses: every worker gets a
 * registry with the default process metrics (RSS, heap, event-loop lag, GC, handles) and adds its
 * own. Hot paths update counters once per batch or flush, never once per message.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { DependencyHealth, HealthOptions } from './dependency-health';

export function createMetricsRegistry(worker: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ worker });
  collectDefaultMetrics({ register: registry, prefix: 'bi_' });
  return registry;
}

/** Failed attempts against a dependency, by the step that failed. */
export function dependencyFailuresCounter(registry: Registry): Counter<'dependency'> {
  return new Counter({
    name: 'bi_dependency_failures_total',
    help: 'failed attempts against a dependency, by the step that failed (each is retried)',
    labelNames: ['dependency'],
    registers: [registry],
  });
}

/** Readiness and liveness, the same for every worker. */
export function registerHealthMetrics(registry: Registry, health: DependencyHealth): void {
  new Gauge({
    name: 'bi_ready',
    help: '1 while every dependency answers',
    registers: [registry],
    collect() {
      this.set(health.report().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'bi_live',
    help: '1 while the worker makes progress or has nothing to do',
    registers: [registry],
    collect() {
      this.set(health.report().live ? 1 : 0);
    },
  });
}

/**
 * A worker's metrics registry and the DependencyHealth its probes and retry loops share, with
 * bi_ready and bi_live registered: the same first step of every worker's start-up.
 */
export function createWorkerHealth(
  worker: string,
  settings: Pick<HealthOptions, 'livenessTimeoutMs' | 'outageBudgetMs'>,
): { registry: Registry; health: DependencyHealth } {
  const registry = createMetricsRegistry(worker);
  const health = new DependencyHealth({
    livenessTimeoutMs: settings.livenessTimeoutMs,
    outageBudgetMs: settings.outageBudgetMs,
  });
  registerHealthMetrics(registry, health);
  return { registry, health };
}
