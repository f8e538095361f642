/**
 * One connection attempt to each service before a worker starts, without retries. Retrying is
 * right for a service that is briefly away, and wrong for a wrong password or a certificate the
 * worker does not trust: those never heal, and a retry loop hides them behind "connection
 * closed". So an authentication or TLS failure stops the worker at start-up with one error that
 * names the service, its address and the variables to check; anything else (a service still
 * starting, say) is left to the normal connect path, which retries.
 */
import pg from 'pg';
import type { Connections, PgSettings } from '../runtime/connections';
import { silentLogger } from '../runtime/log';
import { createKafka } from './kafka';
import { pgConnectionOptions } from './postgres';
import { createRedis } from './redis';
import { registryFetch } from './registry';

export type Service = 'postgres' | 'redis' | 'kafka' | 'registry';

export class ConnectionRefusedError extends Error {
  readonly code = 'CONNECTION_REFUSED';
  constructor(
    readonly service: Service,
    address: string,
    reason: string,
    check: string,
  ) {
    super(`${service} at ${address} refused the connection: ${reason} (check ${check})`);
    this.name = 'ConnectionRefusedError';
  }
}

/** Node and OpenSSL codes of a certificate the client does not accept, or a TLS handshake that failed. */
const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/** The chain of causes kafkajs, knex and ioredis wrap errors in, outermost first. */
function causes(err: unknown): Array<Error & { code?: unknown; name: string }> {
  const out: Array<Error & { code?: unknown }> = [];
  let e: unknown = err;
  while (e instanceof Error && out.length < 5) {
    out.push(e);
    // ioredis' Cluster reports a node's refusal as the lastNodeError of "Failed to refresh slots cache".
    const next =
      (e as { cause?: unknown }).cause ??
      (e as { originalError?: unknown }).originalError ??
      (e as { lastNodeError?: unknown }).lastNodeError;
    e = next;
  }
  return out;
}

type Kind = 'tls' | 'auth' | undefined;

/** Whether an error is one that retrying cannot fix, and which kind. */
export function fatalKind(err: unknown): Kind {
  for (const e of causes(err)) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (TLS_CODES.has(code) || /certificate|self[- ]signed|ssl routines|wrong version number/i.test(e.message))
      return 'tls';
    if (/does not support SSL|SSL off|no encryption/i.test(e.message)) return 'tls';
    // PostgreSQL: invalid_password, invalid_authorization_specification.
    if (code === '28P01' || code === '28000') return 'auth';
    if (e.name === 'KafkaJSSASLAuthenticationError' || /SASL|authenticat/i.test(e.message)) return 'auth';
    if (/^(WRONGPASS|NOAUTH|NOPERM)/.test(e.message)) return 'auth';
  }
  return undefined;
}

function reasonOf(err: unknown): string {
  const chain = causes(err);
  const inner = chain[chain.length - 1];
  return inner ? inner.message : String(err);
}

const CHECK: Record<Service, Record<'tls' | 'auth', string>> = {
  postgres: {
    tls: 'BI_PG_SSLMODE and BI_PG_CA_FILE',
    auth: "BI_PG_WORKER_USER/BI_PG_WORKER_PASSWORD (or the admin pair) and the server's pg_hba.conf",
  },
  redis: { tls: 'BI_REDIS_TLS and BI_REDIS_CA_FILE', auth: 'BI_REDIS_USERNAME and BI_REDIS_PASSWORD' },
  kafka: {
    tls: 'BI_KAFKA_SECURITY_PROTOCOL and BI_KAFKA_CA_FILE',
    auth: 'BI_KAFKA_SASL_MECHANISM, BI_KAFKA_SASL_USERNAME and BI_KAFKA_SASL_PASSWORD',
  },
  registry: { tls: 'BI_REGISTRY_URL and BI_REGISTRY_CA_FILE', auth: 'BI_REGISTRY_USERNAME and BI_REGISTRY_PASSWORD' },
};

async function tryPostgres(settings: PgSettings): Promise<void> {
  const client = new pg.Client({ ...pgConnectionOptions(settings), connectionTimeoutMillis: 5_000 });
  // A failed connect also emits 'error'; without a listener that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function tryRedis(c: Connections): Promise<void> {
  let lastError: unknown;
  const redis = createRedis(c.redis, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
  });
  redis.on('error', (err: unknown) => (lastError = err));
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    // "Connection is closed" says nothing; the 'error' event before it has the cause.
    throw lastError ?? err;
  } finally {
    redis.disconnect();
  }
}

async function tryKafka(c: Connections): Promise<void> {
  const admin = createKafka(c.kafka, silentLogger, 0).admin();
  try {
    await admin.connect();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function tryRegistry(c: Connections): Promise<void> {
  const { status } = await registryFetch(c.registry, '/subjects');
  if (status === 401 || status === 403) {
    throw Object.assign(new Error(`the registry answered HTTP ${status}: not authenticated`), {
      code: 'REGISTRY_AUTH',
    });
  }
}

const ATTEMPTS: Record<Service, (c: Connections, pgRole: PgSettings) => Promise<void>> = {
  postgres: (_c, role) => tryPostgres(role),
  redis: (c) => tryRedis(c),
  kafka: (c) => tryKafka(c),
  registry: (c) => tryRegistry(c),
};

function addressOf(service: Service, c: Connections, pgRole: PgSettings): string {
  switch (service) {
    case 'postgres':
      return `${pgRole.host}:${pgRole.port}/${pgRole.database} as ${pgRole.user}`;
    case 'redis':
      return c.redis.clusterNodes.length > 0
        ? `cluster ${c.redis.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`
        : `${c.redis.host}:${c.redis.port}`;
    case 'kafka':
      return c.kafka.brokers.join(',');
    case 'registry':
      return c.registry.url;
  }
}

/**
 * Tries each service once, in parallel. Throws a ConnectionRefusedError for the first service
 * (in the order given) that refused for a reason retrying cannot fix.
 */
export async function checkConnections(c: Connections, pgRole: PgSettings, services: Service[]): Promise<void> {
  const outcomes = await Promise.all(
    services.map((s) =>
      ATTEMPTS[s](c, pgRole).then(
        () => undefined,
        (err: unknown) => err,
      ),
    ),
  );
  services.forEach((service, i) => {
    const err = outcomes[i];
    if (err === undefined) return;
    const kind =
      service === 'registry' && (err as { code?: string }).code === 'REGISTRY_AUTH' ? 'auth' : fatalKind(err);
    if (kind)
      throw new ConnectionRefusedError(service, addressOf(service, c, pgRole), reasonOf(err), CHECK[service][kind]);
  });
}
