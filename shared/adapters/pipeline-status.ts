import type { Admin } from 'kafkajs';
import type { Knex } from 'knex';
import { committedOffsets, topicEnd } from './ingest-progress';

export interface GroupLag {
  group: string;
  topic: string;
  /** Messages on the topic the group has not committed yet. */
  lag: number;
  /** Whether the group has committed anything on the topic at all. */
  started: boolean;
}

export interface PipelineStatus {
  groups: GroupLag[];
  gaps: {
    /** Gap changes not yet published on the gaps topic. */
    unpublishedEvents: number;
    /** Gaps waiting for their first history request (OPEN, of a backfilled kind). */
    awaitingRequest: number;
    /** Requested, no answer yet. */
    awaitingAnswer: number;
    /** Answered; the ingest workers have not consumed past the answer yet. */
    awaitingIngest: number;
    /** Answered and ingested; settling (FILLED, or NO_DATA after the settle time). */
    settling: number;
  };
  caughtUp: boolean;
}

/** Lag of `group` on `topic`, per the committed offsets (a group that never committed lags by everything). */
export async function groupLag(admin: Admin, group: string, topic: string): Promise<GroupLag> {
  const [ends, committed] = await Promise.all([topicEnd(admin, topic), committedOffsets(admin, topic, group)]);
  let lag = 0;
  let started = false;
  for (const [partition, end] of Object.entries(ends)) {
    const at = committed[partition] ?? -1;
    if (at >= 0) started = true;
    lag += end - Math.max(at, 0);
  }
  return { group, topic, lag, started };
}

/**
 * Whether the system has caught up: every consumer group has consumed its topics, every gap
 * change is published, and no backfill is in flight.
 */
export async function pipelineStatus(
  admin: Admin,
  knex: Knex,
  groups: Array<{ group: string; topic: string }>,
  backfillKinds: readonly string[],
): Promise<PipelineStatus> {
  const lags = await Promise.all(groups.map((g) => groupLag(admin, g.group, g.topic)));
  const { rows } = await knex.raw<{ rows: Array<Record<string, string>> }>(
    `SELECT count(*) FILTER (WHERE event_version > published_version) AS unpublished,
            count(*) FILTER (WHERE status = 'OPEN' AND kind = ANY(?::text[])) AS awaiting_request,
            count(*) FILTER (WHERE status = 'BACKFILL_REQUESTED' AND response_at IS NULL) AS awaiting_answer,
            count(*) FILTER (WHERE status = 'BACKFILL_REQUESTED' AND response_at IS NOT NULL AND caught_up_at IS NULL) AS awaiting_ingest,
            count(*) FILTER (WHERE status = 'BACKFILL_REQUESTED' AND caught_up_at IS NOT NULL) AS settling
       FROM data_gaps`,
    [[...backfillKinds]],
  );
  const r = rows[0]!;
  const gaps = {
    unpublishedEvents: Number(r.unpublished),
    awaitingRequest: Number(r.awaiting_request),
    awaitingAnswer: Number(r.awaiting_answer),
    awaitingIngest: Number(r.awaiting_ingest),
    settling: Number(r.settling),
  };
  const caughtUp = lags.every((l) => l.lag === 0) && Object.values(gaps).every((n) => n === 0);
  return { groups: lags, gaps, caughtUp };
}
