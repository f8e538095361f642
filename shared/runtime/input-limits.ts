import { DEFAULT_MIN_BAR_TIME } from '../domain/bar';
import type { EnvReader } from './config';

/** Limits on input that every consuming worker applies alike (bars, connection events). */
export function readMinBarTime(env: EnvReader): number {
  return env.instant(
    'BI_MIN_BAR_TIME',
    DEFAULT_MIN_BAR_TIME,
    'bars and events before this UTC time are dead-lettered (TIMESTAMP_TOO_OLD): an unset time sent as zero',
  );
}

export function readMaxClockSkew(env: EnvReader): number {
  return env.int(
    'BI_MAX_CLOCK_SKEW_MS',
    300_000,
    "how far a message's time may run ahead of the worker's clock before it is dead-lettered (CLOCK_SKEW) (ms)",
    { min: 0 },
  );
}

export function readMaxMessageBytes(env: EnvReader): number {
  return env.int(
    'BI_MAX_MESSAGE_BYTES',
    16_384,
    'a message value larger than this is dead-lettered (MESSAGE_TOO_LARGE) before decoding; a bar is about 100 bytes',
    { min: 64 },
  );
}
