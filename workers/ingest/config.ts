import { EnvReader } from '../../shared/runtime/config';
import { DEFAULT_FLUSH_MAX_MESSAGES, readIngestGroupId } from '../../shared/runtime/pipeline-settings';
import { Connections, readConnections, readRedisNamespace } from '../../shared/runtime/connections';
import type { ExporterDefaults } from '../../shared/domain/bar';
import { CrashPlan, readCrashPlan } from '../../shared/runtime/crash-points';
import { Level, readLogLevel } from '../../shared/runtime/log';
import { HealthSettings, readHealthSettings } from '../../shared/runtime/health-settings';
import { readMaxClockSkew, readMaxMessageBytes, readMinBarTime } from '../../shared/runtime/input-limits';
import { PartitionMaintenanceSettings, readPartitionMaintenance } from '../../shared/runtime/partition-settings';

export interface IngestConfig {
  connections: Connections;
  groupId: string;
  flushMaxMessages: number;
  flushMaxWaitMs: number;
  maxPendingMessages: number;
  partitionsConcurrently: number;
  fetchMaxBytes: number;
  fetchMaxBytesPerPartition: number;
  autoRegister: boolean;
  exporterDefaults: Map<string, ExporterDefaults>;
  sessionTimeoutMs: number;
  gapGraceMs: number;
  redisNamespace: string;
  health: HealthSettings;
  logLevel: Level;
  maxMessageBytes: number;
  maxClockSkewMs: number;
  minBarTimeMs: number;
  shutdownTimeoutMs: number;
  pgPoolMax: number;
  slowFlushMs: number;
  crashAt: CrashPlan | undefined;
  /** Deprecated variables that are set, with what to do (logged at start). */
  deprecations: readonly string[];
  partitions: PartitionMaintenanceSettings;
}

/** `exporter-a=Quantower/Binance,exporter-b=Quantower/Coinbase` -> a map by exporter id. */
function parseExporterDefaults(text: string[], env: EnvReader): Map<string, ExporterDefaults> {
  const map = new Map<string, ExporterDefaults>();
  for (const entry of text) {
    const m = /^([^=]+)=([^/]+)\/(.+)$/.exec(entry);
    if (!m) {
      env.problem(`BI_EXPORTER_DEFAULTS entry ${JSON.stringify(entry)} is not exporter=Provider/Venue`);
      continue;
    }
    map.set(m[1]!.trim(), { provider: m[2]!.trim(), venue: m[3]!.trim() });
  }
  return map;
}

/** Renamed because they count messages (rejects included), not bars; the old names work for one release. */
const RENAMED_VARIABLES = [
  ['BI_FLUSH_MAX_BARS', 'BI_FLUSH_MAX_MESSAGES'],
  ['BI_MAX_PENDING_BARS', 'BI_MAX_PENDING_MESSAGES'],
] as const;

export function readIngestConfig(env: EnvReader): IngestConfig {
  for (const [oldName, newName] of RENAMED_VARIABLES) env.renamed(oldName, newName);
  const connections = readConnections(env, 'bar-ingest-worker');
  const config: IngestConfig = {
    connections,
    groupId: readIngestGroupId(env),
    flushMaxMessages: env.int(
      'BI_FLUSH_MAX_MESSAGES',
      DEFAULT_FLUSH_MAX_MESSAGES,
      'most messages in one flush (an upper bound: a flush takes what arrived while the previous one was written)',
      { min: 1, max: 1_000_000 },
    ),
    flushMaxWaitMs: env.int(
      'BI_FLUSH_MAX_WAIT_MS',
      1000,
      'longest a message waits for a flush while the previous one is being written (ms)',
      { min: 1, max: 60_000 },
    ),
    maxPendingMessages: env.int(
      'BI_MAX_PENDING_MESSAGES',
      20_000,
      'stop fetching while this many messages wait for a flush (bounds memory; at least the flush size)',
      { min: 1 },
    ),
    partitionsConcurrently: env.int('BI_PARTITIONS_CONCURRENTLY', 12, 'partitions batched together into one flush', {
      min: 1,
      max: 1000,
    }),
    fetchMaxBytes: env.int(
      'BI_FETCH_MAX_BYTES',
      2_097_152,
      'bytes one fetch may return across partitions: bounds memory and how long decoding one fetch holds the event loop',
      { min: 65_536 },
    ),
    fetchMaxBytesPerPartition: env.int(
      'BI_FETCH_MAX_BYTES_PER_PARTITION',
      524_288,
      'bytes one fetch may return per partition (a larger record is still returned whole)',
      { min: 16_384 },
    ),
    autoRegister: env.bool(
      'BI_AUTO_REGISTER',
      false,
      'register unknown providers and venues instead of rejecting their bars',
    ),
    exporterDefaults: parseExporterDefaults(
      env.list(
        'BI_EXPORTER_DEFAULTS',
        [],
        `provider/venue for legacy bars by the exporter id header, as exporter=Provider/Venue,...`,
      ),
      env,
    ),
    gapGraceMs: env.int(
      'BI_GAP_GRACE_MS',
      0,
      'allowed lateness: a gap is reported only after this long, so a briefly reordered stream raises none (ms)',
      { min: 0, max: 3_600_000 },
    ),
    redisNamespace: readRedisNamespace(env, connections.topicPrefix),
    sessionTimeoutMs: env.int(
      'BI_SESSION_TIMEOUT_MS',
      30_000,
      'Kafka group session timeout: how soon a crashed worker is noticed and its partitions moved (ms)',
      { min: 6_000, max: 300_000 },
    ),
    health: readHealthSettings(env),
    logLevel: readLogLevel(env),
    maxMessageBytes: readMaxMessageBytes(env),
    maxClockSkewMs: readMaxClockSkew(env),
    minBarTimeMs: readMinBarTime(env),
    shutdownTimeoutMs: env.int('BI_SHUTDOWN_TIMEOUT_MS', 30_000, 'how long a graceful stop may take (ms)', { min: 0 }),
    pgPoolMax: env.int('BI_PG_POOL_MAX', 4, 'PostgreSQL connections per worker', { min: 1, max: 100 }),
    slowFlushMs: env.int(
      'BI_SLOW_FLUSH_MS',
      1_000,
      'log a flush that takes this long, with the time of each stage (ms)',
      {
        min: 1,
      },
    ),
    crashAt: readCrashPlan(env),
    deprecations: env.deprecations,
    partitions: readPartitionMaintenance(env),
  };
  return config;
}
