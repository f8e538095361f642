/**
 * Why a message was rejected. Each code reaches the DLQ header `bi-error-code` and a counter, so a
 * person can act on it without reading worker logs.
 */
export const REJECT_CODES = [
  'DECODE_FAILED',
  'UNKNOWN_SCHEMA',
  'MISSING_FIELD',
  'UNMAPPED_EXPORTER',
  'UNKNOWN_PROVIDER',
  'UNKNOWN_VENUE',
  'INVALID_SYMBOL',
  'INVALID_TIMEFRAME',
  'INVALID_PRICE',
  'INVALID_OHLC',
  'INVALID_VOLUME',
  'MISALIGNED_TIMESTAMP',
  'FUTURE_TIMESTAMP',
  'INVALID_TIMESTAMP',
  'FIELD_TOO_LONG',
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
