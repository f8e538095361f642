import { DEFAULT_TOPICS } from '../contract';
import { EnvReader } from './config';
import {
  KafkaSecurity,
  PgSecurity,
  readKafkaSecurity,
  readPgSecurity,
  readRedisSecurity,
  readRegistrySecurity,
  RedisSecurity,
  RegistrySecurity,
} from './security';

/**
 * Where the services are. Defaults match stack.env, so a process started by `make` or by hand on
 * a developer machine finds the local stack without any variable set.
 */
export interface PgSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** A statement running longer is cancelled (SQLSTATE 57014), which the workers retry as transient. */
  statementTimeoutMs?: number;
  security: PgSecurity;
}

export interface RedisSettings {
  host: string;
  port: number;
  /** Seed nodes of a Redis Cluster; empty: the single Redis at host:port. */
  clusterNodes: Array<{ host: string; port: number }>;
  security: RedisSecurity;
}

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  security: KafkaSecurity;
}

export interface RegistrySettings {
  url: string;
  security: RegistrySecurity;
}

export interface Topics {
  bars: string;
  connectionStatus: string;
  gaps: string;
  historyRequests: string;
  historyResponses: string;
  barsDlq: string;
  continuityDlq: string;
}

export interface Connections {
  pgAdmin: PgSettings;
  pgWorker: PgSettings;
  redis: RedisSettings;
  kafka: KafkaSettings;
  registry: RegistrySettings;
  /** Same as registry.url (kept for callers that only need the address). */
  registryUrl: string;
  /** Prepended to every topic name (and, by default, to Redis keys): isolates test runs. */
  topicPrefix: string;
  topics: Topics;
}

/**
 * BI_REDIS_CLUSTER_NODES: some nodes of a Redis Cluster (the client learns the rest from them).
 * Set, it replaces BI_REDIS_HOST and BI_REDIS_PORT; the TLS and ACL settings apply to every node.
 */
function readClusterNodes(env: EnvReader): Array<{ host: string; port: number }> {
  const nodes: Array<{ host: string; port: number }> = [];
  for (const entry of env.list(
    'BI_REDIS_CLUSTER_NODES',
    [],
    'Redis Cluster seed nodes, comma-separated host:port (unset: the single Redis at BI_REDIS_HOST:BI_REDIS_PORT)',
  )) {
    const m = /^(.+):([0-9]{1,5})$/.exec(entry);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      env.problem(`BI_REDIS_CLUSTER_NODES entry ${JSON.stringify(entry)} is not host:port (port 1-65535)`);
      continue;
    }
    nodes.push({ host: m[1]!, port });
  }
  return nodes;
}

export function readConnections(env: EnvReader, clientId: string): Connections {
  const host = env.string('BI_PG_HOST', '127.0.0.1', 'PostgreSQL host');
  const port = env.int('BI_PG_PORT', 55432, 'PostgreSQL port', { min: 1, max: 65535 });
  const database = env.string('BI_PG_DATABASE', 'bar_ingest', 'PostgreSQL database');
  const prefix = env.string('BI_TOPIC_PREFIX', '', 'prefix for every topic name (isolates test runs)');
  const topic = (name: string, fallback: string, help: string): string => prefix + env.string(name, fallback, help);
  const registryHost = env.string('BI_REGISTRY_HOST', '127.0.0.1', 'schema registry host');
  const registryPort = env.int('BI_REGISTRY_PORT', 58081, 'schema registry port', { min: 1, max: 65535 });
  const pgSecurity = readPgSecurity(env);
  const registryUrl = env.string(
    'BI_REGISTRY_URL',
    `http://${registryHost}:${registryPort}/apis/ccompat/v7`,
    'Confluent-compatible schema registry base URL (https:// for TLS)',
  );
  return {
    pgAdmin: {
      host,
      port,
      database,
      user: env.string('BI_PG_ADMIN_USER', 'bar_ingest_admin', 'PostgreSQL role that runs migrations'),
      password: env.secret(
        'BI_PG_ADMIN_PASSWORD',
        'bar_ingest_admin',
        "password of the migration role (the default is the local stack's)",
      ),
      security: pgSecurity,
    },
    pgWorker: {
      host,
      port,
      database,
      user: env.string('BI_PG_WORKER_USER', 'bar_ingest_worker', 'least-privilege PostgreSQL role of the workers'),
      password: env.secret(
        'BI_PG_WORKER_PASSWORD',
        'bar_ingest_worker',
        "password of the worker role (the default is the local stack's)",
      ),
      statementTimeoutMs: env.int(
        'BI_PG_STATEMENT_TIMEOUT_MS',
        30_000,
        'a worker statement running longer is cancelled and retried: a hung statement surfaces as a failing dependency (ms, 0: none)',
        { min: 0 },
      ),
      security: pgSecurity,
    },
    redis: {
      host: env.string('BI_REDIS_HOST', '127.0.0.1', 'Redis host'),
      port: env.int('BI_REDIS_PORT', 56379, 'Redis port', { min: 1, max: 65535 }),
      clusterNodes: readClusterNodes(env),
      security: readRedisSecurity(env),
    },
    kafka: {
      brokers: env.list(
        'BI_KAFKA_BROKERS',
        [
          `${env.string('BI_KAFKA_HOST', '127.0.0.1', 'Kafka host')}:${env.int('BI_KAFKA_PORT', 59092, 'Kafka port', { min: 1, max: 65535 })}`,
        ],
        'Kafka bootstrap servers, comma-separated host:port',
      ),
      clientId: env.string('BI_KAFKA_CLIENT_ID', clientId, 'Kafka client id'),
      security: readKafkaSecurity(env),
    },
    registry: { url: registryUrl, security: readRegistrySecurity(env, registryUrl) },
    registryUrl,
    topicPrefix: prefix,
    topics: {
      bars: topic('BI_TOPIC_BARS', DEFAULT_TOPICS.bars, 'topic of incoming bars'),
      connectionStatus: topic(
        'BI_TOPIC_CONNECTION_STATUS',
        DEFAULT_TOPICS.connectionStatus,
        'topic of exporter connection events',
      ),
      gaps: topic('BI_TOPIC_GAPS', DEFAULT_TOPICS.gaps, 'topic of DataGap events'),
      historyRequests: topic('BI_TOPIC_HISTORY_REQUESTS', DEFAULT_TOPICS.historyRequests, 'topic of backfill requests'),
      historyResponses: topic(
        'BI_TOPIC_HISTORY_RESPONSES',
        DEFAULT_TOPICS.historyResponses,
        'topic of backfill answers',
      ),
      barsDlq: topic('BI_TOPIC_BARS_DLQ', DEFAULT_TOPICS.barsDlq, 'dead-letter topic for rejected bars'),
      continuityDlq: topic(
        'BI_TOPIC_CONTINUITY_DLQ',
        DEFAULT_TOPICS.continuityDlq,
        'dead-letter topic for rejected connection status events and history responses',
      ),
    },
  };
}

/**
 * BI_REDIS_NAMESPACE as the ingest worker reads it (same default and help), for the commands that
 * work on its keys (scripts/migrate-redis-keys.ts).
 */
export function readRedisNamespace(env: EnvReader, topicPrefix: string): string {
  const namespace = env.string(
    'BI_REDIS_NAMESPACE',
    `${topicPrefix}bi:`,
    'prefix of every Redis key (defaults to the topic prefix + "bi:")',
  );
  if (/[{}]/.test(namespace)) env.problem(`BI_REDIS_NAMESPACE=${JSON.stringify(namespace)} must not contain a brace`);
  return namespace;
}
