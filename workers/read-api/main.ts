/**
 * The read API worker: the analyst's JSON endpoints and page in one process. Reads PostgreSQL as
 * the worker role and never touches market_bars, so any number can run beside the ingest workers.
 */
import type { AddressInfo } from 'node:net';
import { createKnex } from '../../shared/adapters/postgres';
import { ReadModel } from '../../shared/adapters/read-model';
import { createLogger } from '../../shared/runtime/log';
import { runWorker } from '../../shared/runtime/process';
import { buildReadApi } from './core';
import { ReadApiConfig, readReadApiConfig } from '../../shared/coverage/config';

const USAGE = `bar-ingest read API and page

Usage: tsx workers/read-api/main.ts [--help]

Serves the analyst's view: GET /api/series, /api/series/:id/coverage, /api/runs,
/api/runs/:id/readiness, /api/gaps (JSON), and the page at / (series and runs, coverage
timelines). Prints the page's URL on stdout once listening. Stops gracefully on SIGTERM or SIGINT.`;

export async function startReadApi(config: ReadApiConfig, log = createLogger({ worker: 'read-api' })) {
  const knex = createKnex(config.connections.pgWorker, { min: 0, max: config.pgPoolMax });
  const app = await buildReadApi({ model: new ReadModel(knex), log, maxRows: config.maxRows });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await knex.destroy();
    throw new Error(
      `cannot listen on ${config.host}:${config.port} (BI_READ_API_HOST, BI_READ_API_PORT): ${(err as Error).message}`,
    );
  }
  const { port } = app.server.address() as AddressInfo;
  const shown = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
  log.info('read API started', { url });
  return {
    url,
    port,
    async stop(): Promise<void> {
      await app.close();
      await knex.destroy();
    },
  };
}

if (require.main === module) {
  runWorker({
    name: 'read-api',
    usage: USAGE,
    readConfig: readReadApiConfig,
    start: startReadApi,
    started: (api) =>
      process.stdout.write(`bar-ingest analyst page: ${api.url}  (JSON under ${api.url}api/; Ctrl-C stops)\n`),
  });
}
