/**
 * Helpers for integration tests against the real services. Each test context gets its own topic
 * prefix and consumer group, so tests never see each other's messages; PostgreSQL tables are
 * truncated between tests (the suite runs against its own database, bar_ingest_test).
 */
import crypto from 'node:crypto';
import { Consumer, Kafka, Partitioners, Producer } from 'kafkajs';
import type { Knex } from 'knex';
import { consumerLag, createKafka, ensureTopics, topicSpecs } from '../../shared/adapters/kafka';
import { createKnex } from '../../shared/adapters/postgres';
import { RegistryCodec } from '../../shared/adapters/registry';
import { EnvReader } from '../../shared/runtime/config';
import { Connections, readConnections } from '../../shared/runtime/connections';
import { createLogger, silentLogger } from '../../shared/runtime/log';
import { sleep } from '../../shared/runtime/sleep';
import type { WireBar } from '../../shared/domain/bar';
import type { FatalError } from '../../shared/runtime/failures';
import { readIngestConfig, IngestConfig } from '../../workers/ingest/config';
import { IngestHooks, startIngestWorker } from '../../workers/ingest/main';
import { readContinuityConfig } from '../../workers/continuity/config';
import { startContinuityWorker } from '../../workers/continuity/main';
import { BarPublisher } from '../../exporter/publisher';
import { WorkerProcess } from './worker-process';
import { registerSchemas } from '../../shared/adapters/provisioning';

export const baseConnections: Connections = readConnections(new EnvReader(), 'bar-ingest-test');

let adminKnex: Knex | undefined;
/** Owner-role connection for assertions and clean-up. */
export function db(): Knex {
  adminKnex ??= createKnex(baseConnections.pgAdmin, { min: 0, max: 4 });
  return adminKnex;
}

export async function closeDb(): Promise<void> {
  await adminKnex?.destroy();
  adminKnex = undefined;
}

const DATA_TABLES = [
  'data_gaps',
  'connection_sessions',
  'run_subscriptions',
  'strategy_runs',
  'market_bars',
  'market_series',
];

/** Rows in a table, optionally filtered. */
export async function countRows(
  table: string,
  filter: (q: Knex.QueryBuilder) => void = () => undefined,
): Promise<number> {
  const rows = await db()(table).modify(filter).count<{ c: string }[]>('* as c');
  return Number(rows[0]?.c);
}

export async function truncateData(): Promise<void> {
  await db().raw(`TRUNCATE ${DATA_TABLES.join(', ')} RESTART IDENTITY CASCADE`);
}

export function uniqueName(label: string): string {
  return `${label}-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
}

/** A private set of topics (with schemas registered) and a Kafka client for one test. */
export class TestContext {
  readonly prefix = `${uniqueName('t')}.`;
  readonly env: Record<string, string>;
  readonly connections: Connections;
  readonly kafka: Kafka;
  readonly codec: RegistryCodec;
  private producer: Producer | undefined;
  private readonly consumers: Consumer[] = [];
  private readonly workers: Array<{ stop(): Promise<void> }> = [];

  constructor(extraEnv: Record<string, string> = {}) {
    this.env = {
      ...process.env,
      BI_TOPIC_PREFIX: this.prefix,
      BI_INGEST_GROUP_ID: `${this.prefix}ingest`,
      ...extraEnv,
    } as Record<string, string>;
    this.connections = readConnections(new EnvReader(this.env), 'bar-ingest-test');
    this.kafka = createKafka(this.connections.kafka, silentLogger);
    this.codec = new RegistryCodec(this.connections.registry);
  }

  get topics(): Connections['topics'] {
    return this.connections.topics;
  }

  async setup(): Promise<this> {
    const admin = this.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, topicSpecs(this.topics));
    await admin.disconnect();
    await registerSchemas(this.connections);
    return this;
  }

  /** The context's connected producer, disconnected by close(). */
  async sharedProducer(): Promise<Producer> {
    if (!this.producer) {
      this.producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await this.producer.connect();
    }
    return this.producer;
  }

  async publisher(exporterId = 'test-exporter'): Promise<BarPublisher> {
    const publisher = new BarPublisher(await this.sharedProducer(), this.codec, this.topics.bars, exporterId);
    await publisher.init();
    return publisher;
  }

  async publish(bars: WireBar[], exporterId?: string): Promise<void> {
    await (await this.publisher(exporterId)).publish(bars);
  }

  ingestConfig(overrides: Record<string, string> = {}): IngestConfig {
    const env = new EnvReader({ ...this.env, BI_FLUSH_MAX_WAIT_MS: '200', ...overrides });
    const config = readIngestConfig(env);
    env.check();
    return config;
  }

  /**
   * Fatal stops of in-process workers: recorded (a test that expects none asserts it), never
   * process.exit, which would end the test run itself.
   */
  readonly fatalErrors: FatalError[] = [];
  private recordFatal = (err: FatalError): void => {
    this.fatalErrors.push(err);
    console.warn(`a worker of ${this.prefix} stopped: ${err.message}`);
  };

  async startWorker(overrides: Record<string, string> = {}, hooks: IngestHooks = {}) {
    const worker = await startIngestWorker(
      this.ingestConfig(overrides),
      process.env.BI_TEST_LOG ? createLogger({ test: this.prefix }, 'warn') : silentLogger,
      { onFatal: this.recordFatal, ...hooks },
    );
    this.workers.push(worker);
    return worker;
  }

  async startContinuity(overrides: Record<string, string> = {}) {
    const env = new EnvReader({ ...this.env, BI_BACKFILL_TICK_MS: '200', BI_BACKFILL_SETTLE_MS: '500', ...overrides });
    const config = readContinuityConfig(env);
    env.check();
    const worker = await startContinuityWorker(
      config,
      process.env.BI_TEST_LOG ? createLogger({ test: this.prefix, worker: 'continuity' }, 'warn') : silentLogger,
      { onFatal: this.recordFatal },
    );
    this.workers.push(worker);
    return worker;
  }

  /** Messages of `topic` the ingest group has not committed yet. */
  async lag(topic = this.topics.bars, groupId = `${this.prefix}ingest`): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return await consumerLag(admin, topic, groupId);
    } finally {
      await admin.disconnect();
    }
  }

  /** Messages ever written to `topic` (the sum of its partitions' end offsets). */
  async messagesOn(topic: string): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  }

  async waitForLag0(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => (await this.lag()) === 0, timeoutMs, 'consumer lag 0');
  }

  /** Every message on a topic from the beginning, read by a throw-away group. */
  async readAll(topic: string, expected: number, timeoutMs = 30_000) {
    const consumer = this.kafka.consumer({ groupId: uniqueName('reader') });
    this.consumers.push(consumer);
    const got: Array<{ key: string | null; value: Buffer | null; headers: Record<string, string> }> = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(Array.isArray(v) ? v[0] : v);
        got.push({ key: message.key?.toString() ?? null, value: message.value, headers });
      },
    });
    await waitFor(async () => got.length >= expected, timeoutMs, `${expected} messages on ${topic}`);
    // A little longer, so an assertion on "exactly N" also catches extras.
    await sleep(500);
    await consumer.disconnect();
    return got;
  }

  async close(): Promise<void> {
    for (const w of this.workers.splice(0)) {
      // A worker that cannot stop would keep running against the shared test database and
      // disturb the next test: say so loudly instead of hanging the hook.
      const stopped = await Promise.race([
        w.stop().then(
          () => true,
          () => true,
        ),
        sleep(30_000).then(() => false),
      ]);
      if (!stopped) console.warn(`a worker of ${this.prefix} did not stop within 30 s`);
    }
    for (const c of this.consumers.splice(0)) await c.disconnect().catch(() => undefined);
    await this.producer?.disconnect();
    this.producer = undefined;
  }
}

/**
 * Deletes every topic the suite created, at the end: deleting them test by test kept the broker
 * busy with deletions while the next test created and elected leaders for new ones.
 */
export async function deleteTestTopics(): Promise<void> {
  const admin = createKafka(baseConnections.kafka, silentLogger).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => /^t-[a-z0-9]+-[0-9a-f]{6}\./.test(t));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 60_000 }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

export { sleep };

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** A valid 1-Min Binance BTC/USDT bar `i` minutes after `startMs`. */
export function minuteBar(startMs: number, i: number, patch: Partial<WireBar> = {}): WireBar {
  return {
    symbol: 'BTCUSDT',
    timeframe: '1m',
    provider: 'Quantower',
    venue: 'Binance',
    ts_utc: startMs + i * 60_000,
    open: 100 + i,
    high: 102 + i,
    low: 99 + i,
    close: 101 + i,
    volume: 10,
    run_id: null,
    source: 'LIVE',
    history_request_id: null,
    ...patch,
  };
}

/** A minute-aligned start time `minutesAgo` in the past. */
export function minutesAgo(minutes: number): number {
  return Math.floor(Date.now() / 60_000) * 60_000 - minutes * 60_000;
}

/** An ingest worker in its own process, started through its real entry point, so it can be killed. */
export class ChildWorker extends WorkerProcess {
  constructor(env: Record<string, string>) {
    super({ kind: 'ingest', env });
  }
}
