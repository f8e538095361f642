import http from 'node:http';
import { ConfigError, EnvReader } from './config';
import type { Logger } from './log';

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

/** /healthz (200 or 503) and /metrics (Prometheus text) on loopback, for probes and scraping. */
/**
 * Serves /healthz and /metrics on 127.0.0.1. Resolves once listening; a port that cannot be
 * bound (in use, say) rejects, so the worker stops at start-up with the reason instead of
 * crashing later on an unhandled 'error' event.
 */
export async function serveHealth(
  port: number,
  health: () => { healthy: boolean } & Record<string, unknown>,
  metrics: () => string,
): Promise<http.Server | undefined> {
  if (port === 0) return undefined;
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      const h = health();
      res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h));
    } else if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics());
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`health port ${port} (BI_HEALTH_PORT): ${err.message}`)));
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}
