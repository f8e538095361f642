import { GAP_KINDS, GapKind } from '../domain/gaps';
import type { EnvReader } from './config';

/**
 * Settings that the workers and the tools that watch them (make status-pipeline) must read alike:
 * the consumer groups and which gaps are backfilled.
 */
/**
 * The ingest worker's flush cap. Flushes adapt to load (each takes what arrived while the previous
 * one was written), so this only bounds a statement: large enough that a busy worker writes few,
 * large ones. The benchmark runs the worker with it too.
 */
export const DEFAULT_FLUSH_MAX_MESSAGES = 5_000;

export function readIngestGroupId(env: EnvReader): string {
  return env.string('BI_INGEST_GROUP_ID', 'bar-ingest', 'Kafka consumer group shared by all ingest workers');
}

export function readContinuityGroupId(env: EnvReader, topicPrefix: string): string {
  return env.string(
    'BI_CONTINUITY_GROUP_ID',
    `${topicPrefix}bar-ingest-continuity`,
    'consumer group of the continuity workers',
  );
}

export function readBackfillKinds(env: EnvReader): GapKind[] {
  const kinds = env.list(
    'BI_BACKFILL_KINDS',
    ['OFFLINE', 'UNKNOWN'],
    `gap kinds to ask the exporter to backfill (of ${GAP_KINDS.join(', ')})`,
  );
  for (const k of kinds) {
    if (!(GAP_KINDS as readonly string[]).includes(k))
      env.problem(`BI_BACKFILL_KINDS has ${JSON.stringify(k)}: use ${GAP_KINDS.join(', ')}`);
  }
  return kinds as GapKind[];
}
