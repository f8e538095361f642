import { EnvReader } from '../../shared/runtime/config';
import { readBackfillKinds, readContinuityGroupId, readIngestGroupId } from '../../shared/runtime/pipeline-settings';
import { Connections, readConnections } from '../../shared/runtime/connections';
import type { ContinuityOptions } from './core';
import { HealthSettings, readHealthSettings } from '../../shared/runtime/health-settings';
import { readMaxClockSkew, readMaxMessageBytes, readMinBarTime } from '../../shared/runtime/input-limits';
import { Level, readLogLevel } from '../../shared/runtime/log';

export interface ContinuityConfig extends ContinuityOptions {
  connections: Connections;
  groupId: string;
  /** The ingest workers' consumer group: its progress on the bars topic settles backfills. */
  ingestGroupId: string;
  tickMs: number;
  shutdownTimeoutMs: number;
  health: HealthSettings;
  logLevel: Level;
  maxMessageBytes: number;
}

export function readContinuityConfig(env: EnvReader): ContinuityConfig {
  const connections = readConnections(env, 'bar-ingest-continuity');
  return {
    connections,
    groupId: readContinuityGroupId(env, connections.topicPrefix),
    // A backfill answer's settle time starts once the ingest group has consumed past the answer.
    ingestGroupId: readIngestGroupId(env),
    backfillKinds: readBackfillKinds(env),
    maxAttempts: env.int('BI_BACKFILL_MAX_ATTEMPTS', 3, 'history requests per gap before it is UNFILLABLE', {
      min: 1,
      max: 100,
    }),
    retryMs: env.int('BI_BACKFILL_RETRY_MS', 30_000, 'wait for an answer this long, doubling per attempt (ms)', {
      min: 100,
    }),
    settleMs: env.int(
      'BI_BACKFILL_SETTLE_MS',
      2_000,
      'once the ingest workers consumed past a backfill answer, how long what is still missing waits before it is NO_DATA (ms)',
      { min: 0 },
    ),
    graceMs: env.int('BI_GAP_GRACE_MS', 0, 'allowed lateness before a gap is reported or backfilled (ms)', { min: 0 }),
    tickMs: env.int('BI_BACKFILL_TICK_MS', 1_000, 'how often the backfill scheduler runs (ms)', { min: 50 }),
    shutdownTimeoutMs: env.int('BI_SHUTDOWN_TIMEOUT_MS', 30_000, 'how long a graceful stop may take (ms)', { min: 0 }),
    minEventTimeMs: readMinBarTime(env),
    maxClockSkewMs: readMaxClockSkew(env),
    maxMessageBytes: readMaxMessageBytes(env),
    health: readHealthSettings(env),
    logLevel: readLogLevel(env),
  };
}
