/**
 * Structured logs through pino: one JSON object per line on stderr, so container platforms can
 * ship and query them, while stdout stays free for a command's own output. Call sites use a small
 * interface (message first, then fields) so the logging library stays a detail of this file.
 *
 * Secrets never reach a line: fields named like a password are redacted by path, credentials in
 * URLs are masked, and every value registered with `registerSecret` (the configuration registers
 * each password it reads) is replaced wherever it appears, error messages included.
 */
import pino from 'pino';
import type { EnvReader } from './config';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type Level = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const secrets = new Set<string>();

/** Values that must never be printed (passwords, tokens); short values are ignored to keep logs readable. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^:/@\s"]+):([^@\s"]+)@/gi;

/** Masks registered secrets and URL credentials in a piece of text. */
export function redactSecrets(text: string): string {
  let out = text.replace(URL_CREDENTIALS, '$1:***@');
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  '*.*.*.password',
  'sasl',
  '*.sasl',
  'authorization',
  '*.authorization',
  'headers.authorization',
];

function serializeError(value: unknown): unknown {
  if (value instanceof Error) {
    const withCode = value as Error & { code?: unknown };
    return { name: value.name, message: value.message, code: withCode.code, stack: value.stack };
  }
  return value;
}

/** BI_LOG_LEVEL, validated like every other variable. */
export function readLogLevel(env: EnvReader): Level {
  return env.oneOf('BI_LOG_LEVEL', 'info', LOG_LEVELS, 'log level');
}

function defaultLevel(): Level {
  const fromEnv = process.env.BI_LOG_LEVEL as Level | undefined;
  return fromEnv && (LOG_LEVELS as readonly string[]).includes(fromEnv) ? fromEnv : 'info';
}

function wrap(p: pino.Logger): Logger {
  const write =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (!p.isLevelEnabled(level)) return;
      if (!fields) return p[level](msg);
      const record: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(fields)) record[k] = serializeError(v);
      p[level](record, msg);
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => wrap(p.child(fields)),
  };
}

export function createLogger(
  base: Record<string, unknown> = {},
  level: Level = defaultLevel(),
  sink: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const logger = pino(
    {
      level,
      base,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '***' },
      hooks: { streamWrite: redactSecrets },
    },
    // Synchronous writes: a line logged just before process.exit is never lost.
    { write: sink },
  );
  return wrap(logger);
}

/** For tests and tools that want quiet. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
