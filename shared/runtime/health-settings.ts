import type { EnvReader } from './config';

/** Where the probes listen and when a worker counts as stuck or out of patience; the same for every worker. */
export interface HealthSettings {
  host: string;
  port: number;
  livenessTimeoutMs: number;
  outageBudgetMs: number;
  /** How often the dependencies are pinged for /readyz while the worker is otherwise idle. */
  probeEveryMs: number;
}

export function readHealthSettings(env: EnvReader): HealthSettings {
  return {
    host: env.string(
      'BI_HEALTH_HOST',
      '127.0.0.1',
      'address /livez, /readyz, /healthz and /metrics listen on (0.0.0.0 in a container)',
    ),
    port: env.int('BI_HEALTH_PORT', 0, 'port of the health and metrics server (0: off)', { min: 0, max: 65535 }),
    livenessTimeoutMs: env.int(
      'BI_LIVENESS_TIMEOUT_MS',
      600_000,
      '/livez fails when work has waited this long without progress, so an orchestrator restarts the worker (ms)',
      { min: 1_000 },
    ),
    outageBudgetMs: env.int(
      'BI_OUTAGE_BUDGET_MS',
      300_000,
      'a dependency failing without a break for this long stops the worker with exit code 3, offsets intact (ms)',
      { min: 1_000 },
    ),
    probeEveryMs: env.int('BI_READY_PROBE_MS', 5_000, 'how often /readyz pings PostgreSQL and Redis (ms)', {
      min: 100,
    }),
  };
}
