import http from 'node:http';
import { ConfigError, EnvReader } from './config';
import { createLogger, Level, Logger } from './log';

/** `--help` text from the variables a config reader has documented, then exit. */
export function handleHelp(argv: string[], usage: string, readConfig: (env: EnvReader) => unknown): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const env = new EnvReader({});
  readConfig(env);
  process.stdout.write(`${usage}\n\nEnvironment (all optional):\n${env.helpText()}\n`);
  process.exit(0);
}

/** Reads config, printing every invalid value and exiting 2 rather than starting half-configured. */
export function loadConfigOrExit<T>(readConfig: (env: EnvReader) => T): T {
  const env = new EnvReader();
  try {
    const config = readConfig(env);
    env.check();
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nRun with --help for every variable and its default.\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * Stops gracefully on SIGTERM/SIGINT: `stop` gets `timeoutMs`, then the process exits anyway. A
 * second signal exits at once.
 */
export function onShutdown(log: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) {
      log.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    log.info('stopping', { signal, timeoutMs });
    const timer = setTimeout(() => {
      log.error('graceful stop timed out, exiting', { timeoutMs });
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error('stop failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

/**
 * A worker's entry point, the same for every worker: `--help` from the documented variables, the
 * configuration (exit 2 when invalid), the start (logged and exit 1 when it fails), then a
 * graceful stop on SIGTERM/SIGINT within `shutdownTimeoutMs`. `started` runs once it is up.
 */
export function runWorker<
  C extends { shutdownTimeoutMs: number; logLevel?: Level },
  W extends { stop(): Promise<void> },
>(spec: {
  /** The `worker` field of every log line. */
  name: string;
  usage: string;
  readConfig: (env: EnvReader) => C;
  start: (config: C, log: Logger) => Promise<W>;
  started?: (worker: W, log: Logger) => void;
}): void {
  handleHelp(process.argv, spec.usage, spec.readConfig);
  const config = loadConfigOrExit(spec.readConfig);
  const log = createLogger({ worker: spec.name, pid: process.pid }, config.logLevel);
  spec.start(config, log).then(
    (worker) => {
      onShutdown(log, config.shutdownTimeoutMs, () => worker.stop());
      spec.started?.(worker, log);
    },
    (err: unknown) => {
      log.error('could not start', { err });
      process.exit(1);
    },
  );
}

/** What the health server asks the worker for; each answer is cheap (no I/O per probe). */
export interface HealthSource {
  report(): { ready: boolean; live: boolean } & object;
  /** Extra JSON for /healthz: counters a person can read without Prometheus. */
  details?(): Record<string, unknown>;
  /** Prometheus text exposition (prom-client's registry.metrics()). */
  metrics(): Promise<string>;
  metricsContentType: string;
}

/**
 * Serves the probes an orchestrator and Prometheus use:
 * - `/livez`: 200 while the worker makes progress (or has nothing to do), 503 when it is stuck;
 * - `/readyz`: 200 while every dependency answers, 503 during an outage;
 * - `/healthz`: readiness with details as JSON (kept for existing probes);
 * - `/metrics`: Prometheus text.
 * Resolves once listening; a port that cannot be bound rejects, so the worker stops at start-up
 * with the reason instead of crashing later on an unhandled 'error' event.
 */
export async function serveHealth(
  listen: { host: string; port: number },
  source: HealthSource,
): Promise<http.Server | undefined> {
  if (listen.port === 0) return undefined;
  const json = (res: http.ServerResponse, ok: boolean, body: unknown): void => {
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const report = source.report();
    if (path === '/livez') json(res, report.live, report);
    else if (path === '/readyz') json(res, report.ready, report);
    else if (path === '/healthz') json(res, report.ready, { ...report, ...source.details?.() });
    else if (path === '/metrics') {
      source.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': source.metricsContentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${(err as Error).message}`);
        },
      );
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new Error(`health server on ${listen.host}:${listen.port} (BI_HEALTH_HOST/BI_HEALTH_PORT): ${err.message}`),
      ),
    );
    server.listen(listen.port, listen.host, resolve);
  });
  return server;
}
