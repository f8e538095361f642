/**
 * One failure taxonomy for every worker. Each error a worker meets falls in exactly one class,
 * and the class alone decides what happens to the message and to the worker:
 *
 * | class       | meaning                                      | what the worker does                         |
 * | ----------- | -------------------------------------------- | -------------------------------------------- |
 * | `bad-input` | the message is wrong (a RejectError)          | DLQ with its code and reason, never retried  |
 * | `transient` | a dependency is failing (network, timeouts,  | retry with backoff and jitter, not ready,    |
 * |             | broker/registry down, PG shutdown, deadlock) | commit nothing; exit after the outage budget |
 * | `data`      | PostgreSQL refused rows (SQLSTATE 22, 23)    | split the flush, DLQ each offender           |
 * | `fatal`     | deployment or code error PostgreSQL reports  | stop loudly (exit non-zero), commit nothing  |
 * |             | for any row (42xxx permissions, 28xxx auth)  |                                              |
 * | `bug`       | anything else                                | the message at fault is found and            |
 * |             |                                              | dead-lettered as INTERNAL_ERROR, or the      |
 * |             |                                              | worker stops loudly: never an endless retry  |
 *
 * Errors are recognized by the codes their libraries attach (Node's errno codes, SQLSTATE,
 * kafkajs' `retriable`, HTTP statuses from the registry), never by driver types, so this module
 * imports no driver.
 */
import { isRejectError } from '../domain/errors';

export type FailureClass = 'bad-input' | 'transient' | 'data' | 'fatal' | 'bug';

/** Socket-level failures: the peer is down, restarting or unreachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CLOSED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * SQLSTATEs a retry can cure: connection exceptions (08), serialization failure and deadlock
 * (40001, 40P01), insufficient resources such as too many connections (53), operator
 * intervention such as admin shutdown or a statement timeout (57), lock not available (55P03),
 * a read-only transaction while the database is read-only (25006), system errors (58).
 */
function isTransientSqlState(code: string): boolean {
  return (
    code.startsWith('08') ||
    code === '40001' ||
    code === '40P01' ||
    code.startsWith('53') ||
    code.startsWith('57') ||
    code === '55P03' ||
    code === '25006' ||
    code.startsWith('58')
  );
}

/** SQLSTATE classes that say the rows are wrong: data exception (22), integrity constraint (23). */
export function isDataSqlState(code: string): boolean {
  return code.startsWith('22') || code.startsWith('23');
}

/**
 * SQLSTATEs that no row of any message can cause or cure: missing privileges or objects and
 * syntax (42, a deployment or code error), authentication (28), missing database or schema.
 */
function isFatalSqlState(code: string): boolean {
  return code.startsWith('42') || code.startsWith('28') || code === '3D000' || code === '3F000' || code === '0A000';
}

/** A PostgreSQL error's SQLSTATE: five characters, digits and upper-case letters. */
export function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E') ? code : undefined;
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    chain.push(e);
    const next =
      (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
    if (next === e) break;
    e = next;
  }
  return chain;
}

function isTransientOne(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const err = e as { code?: unknown; name?: unknown; retriable?: unknown; status?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const name = typeof err.name === 'string' ? err.name : '';
  const message = typeof err.message === 'string' ? err.message : '';
  if (code && NETWORK_CODES.has(code)) return true;
  const sqlState = sqlStateOf(e);
  if (sqlState && isTransientSqlState(sqlState)) return true;
  // kafkajs marks what a retry can cure; its connection and timeout errors are named for it.
  if (err.retriable === true) return true;
  if (
    /^KafkaJS(Connection|RequestTimeout|BrokerNotFound|LockTimeout|NumberOfRetriesExceeded|ConnectionClosed)/.test(name)
  )
    return true;
  // knex: no pool connection within acquireConnectionTimeout (the database is unreachable or saturated).
  if (name === 'KnexTimeoutError') return true;
  // ioredis: the connection is gone and queued commands were rejected.
  if (name === 'MaxRetriesPerRequestError' || /^Connection is closed|Stream isn't writeable/.test(message)) return true;
  if (/^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/.test(message)) return true;
  // ioredis Cluster: no node answered, or the slot map is being rebuilt (a master failing over).
  if (
    name === 'ClusterAllFailedError' ||
    /^(Failed to refresh slots cache|Cluster isn't ready|Too many Cluster redirections)/.test(message)
  )
    return true;
  // Clients that wrap a socket error in their own (the registry client reports ECONNREFUSED as
  // an HTTP 400) still say which one it was.
  if (
    /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)\b|socket hang up/.test(
      message,
    )
  )
    return true;
  // pg: the server closed the connection or the client was ended underneath a query.
  if (/Connection terminated|terminating connection|Client has encountered a connection error/.test(message))
    return true;
  // The schema registry: 5xx, 408 and 429 are the registry's trouble, not the message's.
  const status = typeof err.status === 'number' ? err.status : undefined;
  if (status !== undefined && (status >= 500 || status === 408 || status === 429)) return true;
  return false;
}

/** The class of an error, looking through wrapped causes. */
export function classifyFailure(err: unknown): FailureClass {
  if (isRejectError(err)) return 'bad-input';
  const chain = causes(err);
  if (chain.some(isTransientOne)) return 'transient';
  const sqlState = chain.map(sqlStateOf).find((s) => s !== undefined);
  if (sqlState && isDataSqlState(sqlState)) return 'data';
  if (sqlState && isFatalSqlState(sqlState)) return 'fatal';
  return 'bug';
}

export function isTransient(err: unknown): boolean {
  return classifyFailure(err) === 'transient';
}

/** A one-line description for a DLQ reason or a log line: SQLSTATE and the server's message where known. */
export function describeFailure(err: unknown): string {
  const sqlState = sqlStateOf(err);
  let message = err instanceof Error ? err.message : String(err);
  // knex prefixes PostgreSQL's words with the whole statement ("<sql> - <message>"): keep the words.
  if (sqlState && message.includes(' - ')) message = message.slice(message.lastIndexOf(' - ') + 3);
  const detail = (err as { detail?: unknown } | null)?.detail;
  const base = sqlState
    ? `SQLSTATE ${sqlState}: ${message}`
    : `${err instanceof Error ? err.name : 'Error'}: ${message}`;
  return typeof detail === 'string' && detail.length > 0 ? `${base} (${detail})` : base;
}

/** Exit codes of a worker that stops on its own (2 is an invalid configuration, 1 a failed start). */
export const EXIT_OUTAGE_BUDGET = 3;
export const EXIT_FATAL = 4;

/** Thrown to stop a worker loudly: the orchestrator restarts it; nothing past what is durable was committed. */
export class FatalError extends Error {
  readonly code = 'FATAL';
  constructor(
    message: string,
    override readonly cause?: unknown,
    readonly exitCode: number = EXIT_FATAL,
  ) {
    super(message);
    this.name = 'FatalError';
  }
}

const REBALANCE_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR_FOR_GROUP',
  'FENCED_INSTANCE_ID',
]);

/**
 * kafkajs' answers to a member whose group is rebalancing or has moved on (possibly wrapped).
 * Such a commit is dropped, never retried after rejoining: that retry is how committed offsets
 * move backwards. The messages are redelivered instead.
 */
export function isRebalanceError(err: unknown): boolean {
  return causes(err).some((e) => {
    const type = (e as { type?: unknown } | null)?.type;
    return typeof type === 'string' && REBALANCE_ERRORS.has(type);
  });
}

/**
 * Commits offsets unless the group refuses them for a rebalance: such a commit is dropped (the
 * messages are redelivered), never retried after rejoining. Any other failure is thrown.
 */
export async function commitUnlessRebalanced(
  commit: () => Promise<void>,
  log: { info(msg: string, fields?: Record<string, unknown>): void },
): Promise<void> {
  try {
    await commit();
  } catch (err) {
    if (!isRebalanceError(err)) throw err;
    log.info('offset commit refused during a rebalance; the messages will be redelivered', {
      err: describeFailure(err),
    });
  }
}
