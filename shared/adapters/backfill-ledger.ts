/**
 * What the continuity worker's core reads and changes in PostgreSQL, as one small interface: the
 * core decides, the SQL stays in the stores (gap-store.ts, backfill-store.ts, session-store.ts),
 * and the core never holds a connection or a transaction object of the driver.
 */
import type { Knex } from 'knex';
import type { TopicPosition } from '../domain/backfill';
import type { GapKind, GapRange } from '../domain/gaps';
import { BackfillStore } from './backfill-store';
import type { GapStore, StoredGap } from './gap-store';
import { recordConnectionStatus } from './session-store';

/** The steps that must commit together; each runs inside the transaction `BackfillLedger.transaction` opened. */
export interface LedgerTransaction {
  /** A connection change into connection_sessions. */
  recordConnectionStatus(change: {
    provider: string;
    venue: string;
    status: 'CONNECTED' | 'DISCONNECTED';
    tsMs: number;
  }): Promise<void>;
  /** Re-classifies the gaps of a provider and venue; returns how many changed kind. */
  classifyGaps(which: { provider: string; venue: string }): Promise<number>;
  /** Gaps due a (first or repeated) history request, locked for this worker. */
  dueRequests(opts: {
    kinds: GapKind[];
    graceMs: number;
    limit: number;
  }): Promise<Array<{ gapId: string; attempts: number }>>;
  gapsByIds(gapIds: string[]): Promise<StoredGap[]>;
  markRequested(gapId: string, requestId: string, attempt: number, retryInMs: number): Promise<void>;
  markUnfillable(gapId: string): Promise<void>;
  /** Answered gaps (locked), with the bars sent and whether their settle time is up. */
  answered(settleMs: number, limit: number): Promise<Array<{ gapId: string; barsSent: number; settleTimeUp: boolean }>>;
  /** Stored bar open times in each `(afterMs, uptoMs]`, sorted. */
  barTimes(ranges: Array<{ seriesId: number; afterMs: number | null; uptoMs: number }>): Promise<number[][]>;
  /** Records what is still missing of a gap; returns whether anything changed. */
  trackGap(gap: StoredGap, remaining: GapRange[], graceMs: number): Promise<boolean>;
  markNoData(gapIds: string[]): Promise<void>;
}

export interface BackfillLedger {
  transaction<T>(work: (tx: LedgerTransaction) => Promise<T>): Promise<T>;
  /** Records the exporter's answer to a request; false when no request is waiting for it. */
  recordResponse(response: {
    requestId: string;
    status: 'OK' | 'NO_DATA' | 'ERROR';
    barsSent: number;
    barsEnd: TopicPosition;
  }): Promise<boolean>;
  /** Answered gaps whose answer the ingest workers have not been seen to consume past yet. */
  awaitingIngest(limit: number): Promise<Array<{ gapId: string; barsEnd: TopicPosition }>>;
  markIngested(gapIds: string[]): Promise<void>;
}

/** The ledger on PostgreSQL through the stores. */
export function pgBackfillLedger(knex: Knex, gaps: GapStore, backfill = new BackfillStore()): BackfillLedger {
  const inTransaction = (trx: Knex.Transaction): LedgerTransaction => ({
    recordConnectionStatus: (change) => recordConnectionStatus(trx, change),
    classifyGaps: (which) => gaps.classify(trx, which),
    dueRequests: (opts) => backfill.dueRequests(trx, opts),
    gapsByIds: (gapIds) => gaps.byIds(trx, gapIds),
    markRequested: (gapId, requestId, attempt, retryInMs) =>
      backfill.markRequested(trx, gapId, requestId, attempt, retryInMs),
    markUnfillable: (gapId) => backfill.markUnfillable(trx, gapId),
    answered: (settleMs, limit) => backfill.answered(trx, settleMs, limit),
    barTimes: (ranges) => gaps.barTimes(ranges, trx),
    trackGap: (gap, remaining, graceMs) => gaps.track(trx, gap, remaining, graceMs),
    markNoData: (gapIds) => backfill.markNoData(trx, gapIds),
  });
  return {
    transaction: (work) => knex.transaction((trx) => work(inTransaction(trx))),
    recordResponse: (response) => backfill.recordResponse(knex, response),
    awaitingIngest: (limit) => backfill.awaitingIngest(knex, limit),
    markIngested: (gapIds) => backfill.markIngested(knex, gapIds),
  };
}
