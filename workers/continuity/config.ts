import { EnvReader } from '../../shared/runtime/config';
import { Connections, readConnections } from '../../shared/runtime/connections';
import { GAP_KINDS, GapKind } from '../../shared/domain/gaps';
import type { ContinuityOptions } from './core';

export interface ContinuityConfig extends ContinuityOptions {
  connections: Connections;
  groupId: string;
  /** The ingest workers' consumer group: its progress on the bars topic settles backfills. */
  ingestGroupId: string;
  tickMs: number;
  shutdownTimeoutMs: number;
}

export function readContinuityConfig(env: EnvReader): ContinuityConfig {
  const connections = readConnections(env, 'bar-ingest-continuity');
  const kinds = env.list(
    'BI_BACKFILL_KINDS',
    ['OFFLINE', 'UNKNOWN'],
    `gap kinds to ask the exporter to backfill (of ${GAP_KINDS.join(', ')})`,
  );
  for (const k of kinds) {
    if (!(GAP_KINDS as readonly string[]).includes(k))
      env.problem(`BI_BACKFILL_KINDS has ${JSON.stringify(k)}: use ${GAP_KINDS.join(', ')}`);
  }
  return {
    connections,
    groupId: env.string(
      'BI_CONTINUITY_GROUP_ID',
      `${connections.topicPrefix}bar-ingest-continuity`,
      'consumer group of the continuity workers',
    ),
    ingestGroupId: env.string(
      'BI_INGEST_GROUP_ID',
      'bar-ingest',
      "consumer group of the ingest workers (a backfill answer's settle time starts once it has consumed past the answer)",
    ),
    backfillKinds: kinds as GapKind[],
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
  };
}
