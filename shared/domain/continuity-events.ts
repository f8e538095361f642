/**
 * Validation of what exporters send besides bars: connection status and history responses. The
 * same rules as for bars (registered names, no control characters, bounded strings, sane times),
 * so the continuity worker dead-letters bad input instead of skipping or wedging on it.
 */
import type { Catalog } from './bar';
import { RejectError } from './errors';
import { rejectControlCharacters } from './text';

export interface ConnectionStatusEvent {
  provider: string;
  venue: string;
  status: 'CONNECTED' | 'DISCONNECTED';
  ts_utc: number;
  reason?: string | null;
}

export interface HistoryResponseEvent {
  request_id: string;
  bars_sent: number;
  status: 'OK' | 'NO_DATA' | 'ERROR';
  message?: string | null;
}

/** A connection status event with canonical names. */
export interface ConnectionChange {
  provider: string;
  venue: string;
  status: 'CONNECTED' | 'DISCONNECTED';
  tsMs: number;
}

const NAME_LIMIT = 64;
const REQUEST_ID_LIMIT = 256;

function checkText(field: string, value: unknown, limit: number): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new RejectError('INVALID_FIELD', `${field} is ${JSON.stringify(value)}, not a non-empty string`);
  }
  rejectControlCharacters(field, value);
  if (value.length > limit) {
    throw new RejectError('FIELD_TOO_LONG', `${field} is ${value.length} characters, more than the ${limit} allowed`);
  }
  return value;
}

export function validateConnectionStatus(
  event: ConnectionStatusEvent,
  catalog: Catalog,
  nowMs: number,
  limits: { minTsMs: number; maxSkewMs: number },
): ConnectionChange {
  const providerName = checkText('provider', event.provider, NAME_LIMIT);
  const venueName = checkText('venue', event.venue, NAME_LIMIT);
  const provider = catalog.provider(providerName);
  if (!provider)
    throw new RejectError('UNKNOWN_PROVIDER', `provider ${JSON.stringify(providerName)} is not registered`);
  const venue = catalog.venue(venueName);
  if (!venue) throw new RejectError('UNKNOWN_VENUE', `venue ${JSON.stringify(venueName)} is not registered`);
  const ts = event.ts_utc;
  if (!Number.isSafeInteger(ts) || ts < limits.minTsMs) {
    throw new RejectError(
      'INVALID_TIMESTAMP',
      `ts_utc ${ts} is not a UTC time in milliseconds after ${new Date(limits.minTsMs).toISOString()}`,
    );
  }
  if (ts - nowMs > limits.maxSkewMs) {
    throw new RejectError(
      'FUTURE_TIMESTAMP',
      `ts_utc ${new Date(ts).toISOString()} is ${Math.round((ts - nowMs) / 1000)} s ahead of this worker's clock: fix the exporter machine's clock`,
    );
  }
  return { provider, venue: venue.name, status: event.status, tsMs: ts };
}

export function validateHistoryResponse(event: HistoryResponseEvent): HistoryResponseEvent {
  checkText('request_id', event.request_id, REQUEST_ID_LIMIT);
  if (!Number.isSafeInteger(event.bars_sent) || event.bars_sent < 0) {
    throw new RejectError('INVALID_FIELD', `bars_sent is ${event.bars_sent}; it must be a whole number >= 0`);
  }
  return event;
}
