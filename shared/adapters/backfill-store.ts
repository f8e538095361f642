import type { Knex } from 'knex';
import type { GapKind } from '../domain/gaps';
import type { TopicPosition } from '../domain/backfill';

/** Backfill state on data_gaps; every method runs inside the caller's transaction. */
export class BackfillStore {
  /**
   * Gaps that need a (first or repeated) history request, locked with SKIP LOCKED so only one
   * worker asks for each. New gaps wait out the grace period first.
   */
  async dueRequests(
    trx: Knex.Transaction,
    opts: { kinds: GapKind[]; graceMs: number; limit: number },
  ): Promise<Array<{ gapId: string; attempts: number }>> {
    const { rows } = await trx.raw<{ rows: Array<{ gap_id: string; attempts: number }> }>(
      `SELECT gap_id, attempts FROM data_gaps
        WHERE (status = 'OPEN' AND kind = ANY(?::text[]) AND next_request_at IS NULL
               AND detected_at <= now() - ? * interval '1 millisecond')
           OR (status = 'BACKFILL_REQUESTED' AND response_at IS NULL AND next_request_at <= now())
        ORDER BY detected_at LIMIT ? FOR UPDATE SKIP LOCKED`,
      [opts.kinds, opts.graceMs, opts.limit],
    );
    return rows.map((r) => ({ gapId: r.gap_id, attempts: r.attempts }));
  }

  async markRequested(
    trx: Knex.Transaction,
    gapId: string,
    requestId: string,
    attempt: number,
    retryInMs: number,
  ): Promise<void> {
    await trx.raw(
      `UPDATE data_gaps
          SET attempts = ?, last_request_id = ?, next_request_at = now() + ? * interval '1 millisecond',
              event_version = event_version + CASE WHEN status = 'BACKFILL_REQUESTED' THEN 0 ELSE 1 END,
              status = 'BACKFILL_REQUESTED', updated_at = now()
        WHERE gap_id = ?`,
      [attempt, requestId, retryInMs, gapId],
    );
  }

  async markUnfillable(trx: Knex.Transaction, gapId: string): Promise<void> {
    await trx.raw(
      `UPDATE data_gaps SET status = 'UNFILLABLE', next_request_at = NULL, updated_at = now(),
              event_version = event_version + 1
        WHERE gap_id = ?`,
      [gapId],
    );
  }

  /**
   * Records the exporter's answer: how many bars it says it sent, and where the bars topic ended
   * when the answer was consumed (its bars were written before it). An ERROR answer makes the
   * request due again at once.
   */
  async recordResponse(
    trx: Knex | Knex.Transaction,
    response: { requestId: string; status: 'OK' | 'NO_DATA' | 'ERROR'; barsSent: number; barsEnd: TopicPosition },
  ): Promise<boolean> {
    const { rowCount } = await trx.raw<{ rowCount: number }>(
      response.status === 'ERROR'
        ? `UPDATE data_gaps SET next_request_at = now(), response_status = ?
            WHERE last_request_id = ? AND status = 'BACKFILL_REQUESTED'`
        : `UPDATE data_gaps SET response_at = now(), response_status = ?, response_bars_sent = ?,
                  response_position = ?::jsonb, caught_up_at = NULL
            WHERE last_request_id = ? AND status = 'BACKFILL_REQUESTED' AND response_at IS NULL`,
      response.status === 'ERROR'
        ? [response.status, response.requestId]
        : [response.status, response.barsSent, JSON.stringify(response.barsEnd), response.requestId],
    );
    return rowCount > 0;
  }

  /** Answered gaps whose answer the ingest workers have not been seen to consume past yet. */
  async awaitingIngest(
    trx: Knex | Knex.Transaction,
    limit: number,
  ): Promise<Array<{ gapId: string; barsEnd: TopicPosition }>> {
    const { rows } = await trx.raw<{ rows: Array<{ gap_id: string; response_position: TopicPosition | null }> }>(
      `SELECT gap_id, response_position FROM data_gaps
        WHERE status = 'BACKFILL_REQUESTED' AND response_at IS NOT NULL AND caught_up_at IS NULL
        ORDER BY response_at LIMIT ?`,
      [limit],
    );
    return rows.map((r) => ({ gapId: r.gap_id, barsEnd: r.response_position ?? {} }));
  }

  /** The settle time of these answers starts now: the ingest workers have stored their bars. */
  async markIngested(trx: Knex | Knex.Transaction, gapIds: string[]): Promise<void> {
    if (gapIds.length === 0) return;
    await trx.raw(`UPDATE data_gaps SET caught_up_at = now() WHERE gap_id = ANY(?::text[]) AND caught_up_at IS NULL`, [
      gapIds,
    ]);
  }

  /**
   * Answered gaps (locked), with the bars the answer says were sent and whether `settleMs` have
   * passed since the ingest workers consumed past the answer.
   */
  async answered(
    trx: Knex.Transaction,
    settleMs: number,
    limit: number,
  ): Promise<Array<{ gapId: string; barsSent: number; settleTimeUp: boolean }>> {
    const { rows } = await trx.raw<{ rows: Array<{ gap_id: string; bars_sent: string | null; time_up: boolean }> }>(
      `SELECT gap_id, response_bars_sent AS bars_sent,
              coalesce(caught_up_at <= now() - ? * interval '1 millisecond', false) AS time_up
         FROM data_gaps
        WHERE status = 'BACKFILL_REQUESTED' AND response_at IS NOT NULL
        ORDER BY response_at LIMIT ? FOR UPDATE SKIP LOCKED`,
      [settleMs, limit],
    );
    return rows.map((r) => ({ gapId: r.gap_id, barsSent: Number(r.bars_sent ?? 0), settleTimeUp: r.time_up }));
  }

  async markNoData(trx: Knex.Transaction, gapIds: string[]): Promise<void> {
    if (gapIds.length === 0) return;
    await trx.raw(
      `UPDATE data_gaps SET status = 'NO_DATA', next_request_at = NULL, updated_at = now(),
              event_version = event_version + 1
        WHERE gap_id = ANY(?::text[])`,
      [gapIds],
    );
  }
}
