/**
 * The wire contract in one place: what exporters, workers, the benchmark and the tests must agree
 * on byte for byte. Documented for outsiders in docs/exporter-contract.md; the message schemas are
 * in schemas/, the reject codes in shared/domain/errors.ts.
 */
export { REJECT_CODES } from './domain/errors';
export type { RejectCode } from './domain/errors';

/** A Kafka record as the workers and their dead letters see it, free of any client library's types. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestampMs: number;
  headers: Record<string, string | undefined>;
}

/** Header an exporter sets on every message: a stable id of its installation (selects legacy defaults). */
export const EXPORTER_HEADER = 'bi-exporter-id';

/** Headers a dead letter carries besides the original message's own. */
export const DLQ_HEADERS = {
  code: 'bi-error-code',
  reason: 'bi-error-reason',
  topic: 'bi-source-topic',
  partition: 'bi-source-partition',
  offset: 'bi-source-offset',
  timestamp: 'bi-source-timestamp',
} as const;

/** Default topic names (a deployment may prefix them with BI_TOPIC_PREFIX or rename each). */
export const DEFAULT_TOPICS = {
  bars: 'md.bars.v1',
  connectionStatus: 'md.connection-status.v1',
  gaps: 'md.gaps.v1',
  historyRequests: 'md.history-requests.v1',
  historyResponses: 'md.history-responses.v1',
  barsDlq: 'md.bars.dlq.v1',
  continuityDlq: 'md.continuity.dlq.v1',
} as const;
