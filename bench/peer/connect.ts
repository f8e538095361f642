/**
 * The peer: Kafka Connect with Debezium's JDBC sink, upserting the bench topic into a table with the
 * same key as market_bars (a series is symbol + timeframe + provider + venue, then the bar's open
 * time). Drives the Connect worker that `scripts/stack.sh up connect` started through its REST API.
 */
import type { Admin } from 'kafkajs';
import type { Knex } from 'knex';
import type { PgSettings } from '../../shared/runtime/connections';

export const PEER_TABLE = 'bench_peer_bars';

/** The sink's settings beyond its defaults: what a user tuning it would change. */
export interface SinkTuning {
  batchSize?: number;
  reductionBuffer?: boolean;
  unnestInsert?: boolean;
  maxPollRecords?: number;
  tasks?: number;
}

export interface PeerSettings {
  connectUrl: string;
  /** The registry's Confluent-compatible URL (…/apis/ccompat/v7); the converter uses its v2 API. */
  registryUrl: string;
  pg: PgSettings;
}

export interface PeerResult {
  label: string;
  config: Record<string, string>;
  messages: number;
  /** From the first offset commit to the one that reached the end of the topic. */
  seconds: number;
  messagesPerSec: number;
  /** From creating the connector (task start-up and the group join included) to the last commit. */
  secondsFromCreate: number;
  messagesPerSecFromCreate: number;
  /** Committed when the first commit was seen: messages written before the timed window. */
  committedAtFirst: number;
  rows: number;
  volumeSum: number;
}

/** The table the sink writes: the bar's fields as the Avro schema has them, market_bars' key. */
export async function createPeerTable(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE IF EXISTS ${PEER_TABLE}`);
  await knex.raw(`CREATE TABLE ${PEER_TABLE} (
    symbol text NOT NULL, timeframe text NOT NULL, provider text NOT NULL, venue text NOT NULL,
    ts_utc timestamptz NOT NULL,
    open double precision NOT NULL, high double precision NOT NULL, low double precision NOT NULL,
    close double precision NOT NULL, volume double precision NOT NULL,
    run_id text, source text, history_request_id text,
    PRIMARY KEY (symbol, timeframe, provider, venue, ts_utc))`);
}

export async function dropPeerTable(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE IF EXISTS ${PEER_TABLE}`);
}

export async function peerCounts(knex: Knex): Promise<{ rows: number; volumeSum: number }> {
  const r = await knex.raw<{ rows: Array<{ rows: string; vsum: string }> }>(
    `SELECT count(*) AS rows, coalesce(sum(round(volume * 1e6)::bigint), 0) AS vsum FROM ${PEER_TABLE}`,
  );
  return { rows: Number(r.rows[0]!.rows), volumeSum: Number(r.rows[0]!.vsum) };
}

/** The connector's configuration: Debezium's defaults plus upsert on the key, and `tuning`. */
export function sinkConfig(s: PeerSettings, topic: string, tuning: SinkTuning = {}): Record<string, string> {
  const registryV2 = s.registryUrl.replace(/\/apis\/ccompat\/v\d+\/?$/, '/apis/registry/v2');
  const config: Record<string, string> = {
    'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
    'tasks.max': String(tuning.tasks ?? 1),
    topics: topic,
    'connection.url': `jdbc:postgresql://${s.pg.host}:${s.pg.port}/${s.pg.database}`,
    'connection.username': s.pg.user,
    'connection.password': s.pg.password,
    // The default insert mode is a plain INSERT, which fails on the second copy of a bar.
    'insert.mode': 'upsert',
    'primary.key.mode': 'record_value',
    'primary.key.fields': 'symbol,timeframe,provider,venue,ts_utc',
    'collection.name.format': PEER_TABLE,
    'schema.evolution': 'none',
    'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
    // The exporters write the Confluent wire format: magic byte, 4-byte id, Avro. Apicurio's ids
    // on the Confluent API are content ids.
    'value.converter': 'io.apicurio.registry.utils.converter.AvroConverter',
    'value.converter.apicurio.registry.url': registryV2,
    'value.converter.apicurio.registry.as-confluent': 'true',
    'value.converter.apicurio.registry.id-handler': 'io.apicurio.registry.serde.Legacy4ByteIdHandler',
    'value.converter.apicurio.registry.use-id': 'contentId',
    'value.converter.apicurio.registry.headers.enabled': 'false',
    'consumer.override.auto.offset.reset': 'earliest',
  };
  if (tuning.batchSize) config['batch.size'] = String(tuning.batchSize);
  // UNNEST needs the buffer: without it one statement may carry a key twice, which PostgreSQL
  // refuses ("ON CONFLICT DO UPDATE command cannot affect row a second time").
  if (tuning.reductionBuffer) config['use.reduction.buffer'] = 'true';
  if (tuning.unnestInsert) config['dialect.postgres.unnest.insert.enabled'] = 'true';
  if (tuning.maxPollRecords) config['consumer.override.max.poll.records'] = String(tuning.maxPollRecords);
  return config;
}

class ConnectError extends Error {}

async function rest(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok && !(method === 'DELETE' && res.status === 404)) {
    throw new ConnectError(`Kafka Connect ${method} ${path}: HTTP ${res.status} ${text.slice(0, 500)}`);
  }
  return text ? (JSON.parse(text) as unknown) : undefined;
}

interface ConnectorStatus {
  connector: { state: string; trace?: string };
  tasks: Array<{ id: number; state: string; trace?: string }>;
}

async function failIfFailed(base: string, name: string, label: string): Promise<void> {
  const status = (await rest(base, 'GET', `/connectors/${encodeURIComponent(name)}/status`).catch(() => undefined)) as
    ConnectorStatus | undefined;
  const failed = status?.tasks.find((t) => t.state === 'FAILED');
  if (failed || status?.connector.state === 'FAILED')
    throw new ConnectError(
      `${label}: connector failed: ${(failed?.trace ?? status?.connector.trace ?? '').slice(0, 2000)}`,
    );
}

/** Committed offsets of `groupId` on `topic`, summed (nothing committed counts 0). */
async function committed(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (t?.partitions ?? []).reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);
}

/**
 * Runs one connector over the whole topic: create, wait until its consumer group has committed
 * `messages` offsets, check what it stored, delete it. The table is created empty first.
 */
export async function runPeer(
  s: PeerSettings,
  admin: Admin,
  knex: Knex,
  opts: { label: string; name: string; topic: string; messages: number; tuning: SinkTuning; timeoutMs: number },
  say: (msg: string) => void,
): Promise<PeerResult> {
  await createPeerTable(knex);
  const config = sinkConfig(s, opts.topic, opts.tuning);
  const groupId = `connect-${opts.name}`;
  const created = performance.now();
  await rest(s.connectUrl, 'PUT', `/connectors/${encodeURIComponent(opts.name)}/config`, config);
  try {
    let first: { at: number; committed: number } | undefined;
    let last = 0;
    let lastAt = created;
    let lastLog = created;
    let polls = 0;
    for (;;) {
      const now = performance.now();
      const c = await committed(admin, groupId, opts.topic);
      if (c > 0 && !first) first = { at: now, committed: c };
      if (c !== last) lastAt = now;
      last = c;
      if (c >= opts.messages) break;
      if (now - created > opts.timeoutMs)
        throw new ConnectError(`${opts.label}: ${c} of ${opts.messages} committed after ${opts.timeoutMs} ms`);
      // A failed task would never commit: its trace is the error (every 2 s; the worker shares the cores).
      if (++polls % 10 === 0) await failIfFailed(s.connectUrl, opts.name, opts.label);
      if (now - lastLog > 10_000) {
        say(`    ${opts.label}: ${c} of ${opts.messages} committed`);
        lastLog = now;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const { rows, volumeSum } = await peerCounts(knex);
    const f = first!;
    // A window of a single commit (everything in the first): time it from creation instead.
    const seconds = lastAt > f.at ? (lastAt - f.at) / 1000 : (lastAt - created) / 1000;
    const windowMessages = lastAt > f.at ? opts.messages - f.committed : opts.messages;
    const secondsFromCreate = (lastAt - created) / 1000;
    return {
      label: opts.label,
      config: { ...config, 'connection.password': '(redacted)' },
      messages: opts.messages,
      seconds,
      messagesPerSec: windowMessages / seconds,
      secondsFromCreate,
      messagesPerSecFromCreate: opts.messages / secondsFromCreate,
      committedAtFirst: f.committed,
      rows,
      volumeSum,
    };
  } finally {
    await rest(s.connectUrl, 'DELETE', `/connectors/${encodeURIComponent(opts.name)}`).catch((err: unknown) =>
      say(`    could not delete connector ${opts.name}: ${(err as Error).message}`),
    );
  }
}
