/**
 * The ingest worker: consumes md.bars.v1 as one member of the `bar-ingest` consumer group and
 * upserts bars into PostgreSQL. Run as many as you like; Kafka spreads the partitions.
 */
import { Partitioners } from 'kafkajs';
import { createKafka } from '../../shared/adapters/kafka';
import { createKnex } from '../../shared/adapters/postgres';
import { readSchema, RegistryCodec, SCHEMA_FILES } from '../../shared/adapters/registry';
import { ContinuityStore } from '../../shared/adapters/continuity-store';
import { GapStore } from '../../shared/adapters/gap-store';
import { GapOutbox, kafkaGapSink } from '../../shared/adapters/gap-events';
import Redis from 'ioredis';
import { GapTracker } from './continuity';
import { DbCatalog } from '../../shared/adapters/catalog';
import { SeriesDirectory, writeFlush } from '../../shared/adapters/bar-store';
import { createLogger } from '../../shared/runtime/log';
import { armCrash, crashPoint } from '../../shared/runtime/crash-points';
import { handleHelp, loadConfigOrExit, onShutdown, serveHealth } from '../../shared/runtime/process';
import { IngestCore, InboundMessage, Rejected } from './core';
import { IngestConfig, readIngestConfig } from './config';

const USAGE = `bar-ingest ingest worker

Usage: tsx workers/ingest/main.ts [--help]

Consumes bars from Kafka, validates and normalizes them, and upserts them in bulk into
PostgreSQL. Rejected messages go to the dead-letter topic with an error code and reason.
Stops gracefully on SIGTERM or SIGINT (flushes what it holds, then commits).`;

const DLQ_HEADERS = {
  code: 'bi-error-code',
  reason: 'bi-error-reason',
  topic: 'bi-source-topic',
  partition: 'bi-source-partition',
  offset: 'bi-source-offset',
  timestamp: 'bi-source-timestamp',
} as const;

function headersOf(
  raw: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    out[k] = first === undefined ? undefined : first.toString();
  }
  return out;
}

export async function startIngestWorker(config: IngestConfig, log = createLogger({ worker: 'ingest' })) {
  const { connections: c } = config;
  armCrash(config.crashAt);
  const kafka = createKafka(c.kafka, log);
  const knex = createKnex(c.pgWorker, { min: 1, max: config.pgPoolMax });
  const codec = new RegistryCodec(c.registryUrl);
  const catalog = new DbCatalog(knex, { autoRegister: config.autoRegister, reloadEveryMs: 5_000 });
  const series = new SeriesDirectory(knex);
  // Dead letters are at-least-once (a retried send may duplicate one); each carries its source offset.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeoutMs,
    heartbeatInterval: 3_000,
    maxBytes: config.fetchMaxBytes,
    maxBytesPerPartition: config.fetchMaxBytesPerPartition,
    // Fetches return as soon as data is there; the wait only bounds idle polls and shutdown time.
    maxWaitTimeInMs: 500,
  });

  const redis = new Redis({ ...c.redis, lazyConnect: true, maxRetriesPerRequest: 2 });

  await catalog.load();
  await redis.connect();
  await producer.connect();
  await consumer.connect();
  const gapSchemaId = await codec.register(c.topics.gaps, readSchema(SCHEMA_FILES.gaps));

  const outbox = new GapOutbox(
    knex,
    new GapStore(knex),
    kafkaGapSink(producer, codec, gapSchemaId, c.topics.gaps),
    config.gapGraceMs,
  );
  const gaps = new GapTracker(
    knex,
    new ContinuityStore(redis, config.redisNamespace),
    new GapStore(knex),
    outbox,
    log,
    config.gapGraceMs,
  );

  const core = new IngestCore(
    {
      decode: (value) => codec.decode(value),
      catalog,
      resolveSeries: (s) => series.resolve(s),
      write: (rows, spans) => writeFlush(knex, rows, spans),
      deadLetter: async (rejected: Rejected[]) => {
        await producer.send({
          topic: c.topics.barsDlq,
          acks: -1,
          messages: rejected.map(({ message: m, code, reason }) => ({
            key: m.key,
            value: m.value,
            headers: {
              ...m.headers,
              [DLQ_HEADERS.code]: code,
              [DLQ_HEADERS.reason]: reason,
              [DLQ_HEADERS.topic]: m.topic,
              [DLQ_HEADERS.partition]: String(m.partition),
              [DLQ_HEADERS.offset]: m.offset,
              [DLQ_HEADERS.timestamp]: String(m.timestampMs),
            },
          })),
        });
      },
      commit: async (offsets) => {
        await consumer.commitOffsets(offsets);
        crashPoint('offsets-committed');
      },
      exporterDefaults: (id) => config.exporterDefaults.get(id),
      afterWrite: async (accepted, ids) => {
        crashPoint('bars-committed');
        await gaps.afterWrite(accepted, ids);
        crashPoint('gap-events-marked');
      },
    },
    {
      flushMaxBars: config.flushMaxBars,
      flushMaxWaitMs: config.flushMaxWaitMs,
      // A flush can only fill up if that many messages may wait.
      maxPendingBars: Math.max(config.maxPendingBars, config.flushMaxBars),
      retryInitialMs: 200,
      retryMaxMs: 5_000,
      slowFlushMs: config.slowFlushMs,
    },
    log,
  );

  await consumer.subscribe({ topic: c.topics.bars, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: config.partitionsConcurrently,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
      if (!isRunning() || isStale()) return;
      const messages: InboundMessage[] = batch.messages.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        timestampMs: Number(m.timestamp),
        headers: headersOf(m.headers),
      }));
      await core.submit(messages, heartbeat);
    },
  });
  // Gaps held back by the grace period go out even when their series stays quiet.
  const gapTimer = setInterval(() => {
    outbox.publishDue().catch((err: unknown) => log.warn('publishing gap events failed; will retry', { err }));
  }, 1_000);
  const server = await serveHealth(
    config.healthPort,
    () => ({ ...core.health(), ...core.metrics.snapshot() }),
    () => core.metrics.prometheus(),
  );
  log.info('ingest worker started', {
    topic: c.topics.bars,
    groupId: config.groupId,
    flushMaxBars: config.flushMaxBars,
  });

  return {
    core,
    async stop(): Promise<void> {
      // Stop fetching, flush and commit what is held while still a group member (kafkajs drops
      // commits once the consumer is stopped), then leave the group.
      clearInterval(gapTimer);
      consumer.pause([{ topic: c.topics.bars }]);
      await core.stop();
      await outbox.idle();
      await consumer.disconnect();
      await producer.disconnect();
      redis.disconnect();
      catalog.close();
      await knex.destroy();
      server?.close();
    },
  };
}

if (require.main === module) {
  handleHelp(process.argv, USAGE, readIngestConfig);
  const config = loadConfigOrExit(readIngestConfig);
  const log = createLogger({ worker: 'ingest', pid: process.pid });
  startIngestWorker(config, log).then(
    (worker) => {
      onShutdown(log, config.shutdownTimeoutMs, () => worker.stop());
      setInterval(() => log.info('progress', worker.core.metrics.snapshot()), 30_000).unref();
    },
    (err: unknown) => {
      log.error('could not start', { err });
      process.exit(1);
    },
  );
}
