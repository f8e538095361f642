import type { Knex } from 'knex';
import type { GapKind } from '../domain/gaps';

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

  /** Records the exporter's answer; an ERROR answer makes the request due again at once. */
  async recordResponse(
    trx: Knex | Knex.Transaction,
    requestId: string,
    status: 'OK' | 'NO_DATA' | 'ERROR',
  ): Promise<boolean> {
    const { rowCount } = await trx.raw<{ rowCount: number }>(
      status === 'ERROR'
        ? `UPDATE data_gaps SET next_request_at = now(), response_status = ?
            WHERE last_request_id = ? AND status = 'BACKFILL_REQUESTED'`
        : `UPDATE data_gaps SET response_at = now(), response_status = ?
            WHERE last_request_id = ? AND status = 'BACKFILL_REQUESTED' AND response_at IS NULL`,
      [status, requestId],
    );
    return rowCount > 0;
  }

  /** Answered gaps whose republished bars have had `settleMs` to be stored. */
  async settled(trx: Knex.Transaction, settleMs: number, limit: number): Promise<string[]> {
    const { rows } = await trx.raw<{ rows: Array<{ gap_id: string }> }>(
      `SELECT gap_id FROM data_gaps
        WHERE status = 'BACKFILL_REQUESTED' AND response_at <= now() - ? * interval '1 millisecond'
        ORDER BY response_at LIMIT ? FOR UPDATE SKIP LOCKED`,
      [settleMs, limit],
    );
    return rows.map((r) => r.gap_id);
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
