/**
 * The ingest worker: consumes md.bars.v1 as one member of the `bar-ingest` consumer group and
 * upserts bars into PostgreSQL. Run as many as you like; Kafka spreads the partitions.
 */
import { Partitioners } from 'kafkajs';
import { Counter } from 'prom-client';
import { createKafka, recordsOf } from '../../shared/adapters/kafka';
import { createKnex } from '../../shared/adapters/postgres';
import { readSchema, RegistryCodec, SCHEMA_FILES } from '../../shared/adapters/registry';
import { LastBarStore } from '../../shared/adapters/last-bar-store';
import { GapStore } from '../../shared/adapters/gap-store';
import { GapOutbox, kafkaGapSink } from '../../shared/adapters/gap-events';
import { sendDeadLetters } from '../../shared/adapters/dead-letters';
import { createRedis } from '../../shared/adapters/redis';
import { checkConnections } from '../../shared/adapters/preflight';
import { DbCatalog } from '../../shared/adapters/catalog';
import { loadWorkerCalendars } from '../../shared/adapters/calendar-store';
import { SeriesDirectory, writeFlush } from '../../shared/adapters/bar-store';
import { PartitionMaintenance } from '../../shared/adapters/bar-partitions';
import { createLogger, Logger } from '../../shared/runtime/log';
import { armCrash } from '../../shared/runtime/crash-points';
import type { FatalError } from '../../shared/runtime/failures';
import { createWorkerHealth } from '../../shared/runtime/metrics';
import { exitOnFatal, startWorkerHealth } from '../../shared/runtime/worker-health';
import { runWorker } from '../../shared/runtime/process';
import { GapTracker } from './gap-tracker';
import { IngestCore, IngestPorts } from './core';
import { IngestConfig, readIngestConfig } from './config';
import { IngestMetrics } from './metrics';

const USAGE = `bar-ingest ingest worker

Usage: tsx workers/ingest/main.ts [--help]

Consumes bars from Kafka, validates and normalizes them, and upserts them in bulk into
PostgreSQL. Rejected messages go to the dead-letter topic with an error code and reason.
Stops gracefully on SIGTERM or SIGINT (flushes what it holds, then commits).

Exit codes: 0 stopped on a signal, 1 could not start, 2 invalid configuration,
3 a dependency failed for longer than BI_OUTAGE_BUDGET_MS, 4 an error no message can be blamed for.`;

/** What tests may change about a worker: how a fatal stop is reported, and the ports (to inject faults). */
export interface IngestHooks {
  onFatal?: (err: FatalError) => void;
  wrapPorts?: (ports: IngestPorts) => IngestPorts;
}

export async function startIngestWorker(
  config: IngestConfig,
  log: Logger = createLogger({ worker: 'ingest' }, config.logLevel),
  hooks: IngestHooks = {},
) {
  const { connections: c } = config;
  armCrash(config.crashAt);
  // A wrong password or an untrusted certificate stops the worker here, naming the service.
  await checkConnections(c, c.pgWorker, ['postgres', 'redis', 'kafka', 'registry']);
  const kafka = createKafka(c.kafka, log);
  const knex = createKnex(c.pgWorker, { min: 1, max: config.pgPoolMax });
  const codec = new RegistryCodec(c.registry);
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

  const redis = createRedis(c.redis, { lazyConnect: true, maxRetriesPerRequest: 2 });

  await catalog.load();
  const calendars = await loadWorkerCalendars(knex, log);
  await redis.connect();
  await producer.connect();
  await consumer.connect();
  const gapSchemaId = await codec.register(c.topics.gaps, readSchema(SCHEMA_FILES.gaps));

  const gapStore = new GapStore(knex);
  const outbox = new GapOutbox(
    knex,
    gapStore,
    kafkaGapSink(producer, codec, gapSchemaId, c.topics.gaps),
    config.gapGraceMs,
  );
  const gaps = new GapTracker(
    knex,
    new LastBarStore(redis, config.redisNamespace),
    gapStore,
    outbox,
    log,
    config.gapGraceMs,
    calendars,
  );

  const { registry, health } = createWorkerHealth('ingest', config.health);
  const metrics = new IngestMetrics(registry);
  // market_bars partitions ahead of the bars (the worker role has no DDL: a SECURITY DEFINER function).
  const partitions = new PartitionMaintenance(knex, config.partitions, log);
  partitions.registerMetrics(registry);
  await partitions.start();
  let stopping = false;
  const onFatal = hooks.onFatal ?? exitOnFatal(log);
  const fatal = (err: FatalError): void => {
    if (!stopping) onFatal(err);
  };

  const ports: IngestPorts = {
    decode: (value, topic) => codec.decode(value, topic),
    decodeKnown: (value, topic) => codec.decodeKnown(value, topic),
    catalog,
    resolveSeries: (s) => series.resolve(s),
    write: (rows, spans) => writeFlush(knex, rows, spans),
    deadLetter: (rejected) => sendDeadLetters(producer, c.topics.barsDlq, rejected),
    commit: (offsets) => consumer.commitOffsets(offsets),
    exporterDefaults: (id) => config.exporterDefaults.get(id),
    afterWrite: (accepted, ids) => gaps.afterWrite(accepted, ids),
  };
  const core = new IngestCore(
    hooks.wrapPorts ? hooks.wrapPorts(ports) : ports,
    {
      flushMaxMessages: config.flushMaxMessages,
      flushMaxWaitMs: config.flushMaxWaitMs,
      // A flush can only fill up if that many messages may wait.
      maxPendingMessages: Math.max(config.maxPendingMessages, config.flushMaxMessages),
      retryInitialMs: 200,
      retryMaxMs: 5_000,
      maxMessageBytes: config.maxMessageBytes,
      maxClockSkewMs: config.maxClockSkewMs,
      barChecks: { minTsMs: config.minBarTimeMs },
      slowFlushMs: config.slowFlushMs,
      health,
      onFatal: fatal,
    },
    log,
    metrics,
  );
  metrics.gauge('bi_messages_waiting', 'messages consumed and not yet committed', () => core.waiting);
  metrics.gauge('bi_gap_events_unpublished', 'DataGap events in the outbox not yet acknowledged by the broker', () =>
    gapStore.unpublishedCount(),
  );

  // Each rebalance starts a new generation: offsets fetched before it are never committed.
  consumer.on(consumer.events.GROUP_JOIN, () => core.rebalanced());
  await consumer.subscribe({ topic: c.topics.bars, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: config.partitionsConcurrently,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
      if (!isRunning() || isStale()) return;
      metrics.lag(batch.topic, batch.partition, Number(batch.offsetLag()));
      await core.submit(recordsOf(batch), heartbeat);
    },
  });
  health.markStarted();
  // Gaps held back by the grace period go out even when their series stays quiet.
  const gapTimer = setInterval(() => {
    outbox.publishDue().catch((err: unknown) => log.warn('publishing gap events failed; will retry', { err }));
  }, 1_000);
  new Counter({
    name: 'bi_bars_in_closed_time_total',
    help: "bars stored although their venue's calendar says it was closed (a wrong calendar, or off-hours trading)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(gaps.closedTimeBars.total);
    },
  });
  const probes = await startWorkerHealth({
    settings: config.health,
    health,
    registry,
    probes: [
      { name: 'postgres', check: () => knex.raw('SELECT 1') },
      { name: 'redis', check: () => redis.ping() },
    ],
    details: () => ({ state: core.state, ...metrics.snapshot(), ...gaps.closedTimeBars.snapshot() }),
    log,
    onFatal: fatal,
  });
  for (const message of config.deprecations) log.warn('deprecated setting', { message });
  log.info('ingest worker started', {
    topic: c.topics.bars,
    groupId: config.groupId,
    flushMaxMessages: config.flushMaxMessages,
    health: config.health.port === 0 ? 'off' : `${config.health.host}:${config.health.port}`,
  });

  return {
    core,
    health,
    closedTimeBars: gaps.closedTimeBars,
    async stop(): Promise<void> {
      stopping = true;
      // Stop fetching, flush and commit what is held while still a group member (kafkajs drops
      // commits once the consumer is stopped), then leave the group.
      clearInterval(gapTimer);
      await partitions.stop();
      probes.stop();
      consumer.pause([{ topic: c.topics.bars }]);
      await core.stop();
      await outbox.idle();
      await consumer.disconnect();
      await producer.disconnect();
      redis.disconnect();
      catalog.close();
      await knex.destroy();
    },
  };
}

if (require.main === module) {
  runWorker({
    name: 'ingest',
    usage: USAGE,
    readConfig: readIngestConfig,
    start: startIngestWorker,
    started: (worker, log) => setInterval(() => log.info('progress', worker.core.metrics.snapshot()), 30_000).unref(),
  });
}
