import { EnvReader } from '../runtime/config';
import { Connections, readConnections } from '../runtime/connections';

export interface ReadApiConfig {
  connections: Connections;
  host: string;
  port: number;
  pgPoolMax: number;
  maxRows: number;
  shutdownTimeoutMs: number;
}

export function readReadApiConfig(env: EnvReader): ReadApiConfig {
  const connections = readConnections(env, 'bar-ingest-read-api');
  const host = env.string(
    'BI_READ_API_HOST',
    '127.0.0.1',
    'address the read API and its page listen on (0.0.0.0 to serve other machines)',
  );
  if (!/^[0-9a-zA-Z.:-]+$/.test(host))
    env.problem(`BI_READ_API_HOST=${JSON.stringify(host)} is not an address or host name`);
  return {
    connections,
    host,
    port: env.int('BI_READ_API_PORT', 58090, 'port of the read API and its page (0: any free port)', {
      min: 0,
      max: 65535,
    }),
    pgPoolMax: env.int('BI_READ_API_PG_POOL', 4, 'PostgreSQL connections of the read API', { min: 1, max: 100 }),
    maxRows: env.int('BI_READ_API_MAX_ROWS', 10_000, 'largest `limit` a list request may ask for', {
      min: 1,
      max: 1_000_000,
    }),
    shutdownTimeoutMs: env.int('BI_SHUTDOWN_TIMEOUT_MS', 10_000, 'how long a graceful stop may take (ms)', { min: 0 }),
  };
}
