/**
 * Why a message was rejected. Each code reaches the DLQ header `bi-error-code` and a counter, so a
 * person can act on it without reading worker logs.
 */
export const REJECT_CODES = [
  // Before or while decoding
  'MESSAGE_TOO_LARGE',
  'DECODE_FAILED',
  'UNKNOWN_SCHEMA',
  'WRONG_SCHEMA',
  // Identity
  'UNMAPPED_EXPORTER',
  'UNKNOWN_PROVIDER',
  'UNKNOWN_VENUE',
  'INVALID_SYMBOL',
  'INVALID_TIMEFRAME',
  // Strings
  'CONTROL_CHARACTER',
  'FIELD_TOO_LONG',
  // Values
  'INVALID_PRICE',
  'INVALID_OHLC',
  'INVALID_VOLUME',
  // Time
  'MISALIGNED_TIMESTAMP',
  'FUTURE_TIMESTAMP',
  'TIMESTAMP_TOO_OLD',
  'INVALID_TIMESTAMP',
  'CLOCK_SKEW',
  // Provenance, and other fields the schema allows but the contract does not
  'INVALID_SOURCE',
  'INVALID_FIELD',
  // Found by the worker, not by the validator: a bug or an input nobody foresaw, and a row
  // PostgreSQL refused. Each is isolated to the one message at fault.
  'INTERNAL_ERROR',
  'DB_REJECTED',
] as const;

export type RejectCode = (typeof REJECT_CODES)[number];

/** Bad input: the message itself is wrong and retrying cannot help. Goes to the DLQ. */
export class RejectError extends Error {
  constructor(
    readonly code: RejectCode,
    message: string,
  ) {
    super(message);
    this.name = 'RejectError';
  }
}

export function isRejectError(value: unknown): value is RejectError {
  return value instanceof RejectError;
}
