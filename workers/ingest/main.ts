/**
 * The ingest worker: consumes md.bars.v1 as one member of the `bar-ingest` consumer group and
 * upserts bars into PostgreSQL. Run as many as you like; Kafka spreads the partitions.
 */
import { Partitioners } from 'kafkajs';
import { Counter } from 'prom-client';
import { createKafka } from '../../shared/adapters/kafka';
import { createKnex } from '../../shared/adapters/postgres';
import { readSchema, RegistryCodec, SCHEMA_FILES } from '../../shared/adapters/registry';
import { ContinuityStore } from '../../shared/adapters/continuity-store';
import { GapStore } from '../../shared/adapters/gap-store';
import { GapOutbox, kafkaGapSink } from '../../shared/adapters/gap-events';
import { headersOf, sendDeadLetters } from '../../shared/adapters/dead-letters';
import { createRedis } from '../../shared/adapters/redis';
import { checkConnections } from '../../shared/adapters/preflight';
import { DbCatalog } from '../../shared/adapters/catalog';
import { DbCalendars } from '../../shared/adapters/calendar-store';
import { SeriesDirectory, writeFlush } from '../../shared/adapters/bar-store';
import { PartitionMaintenance } from '../../shared/adapters/bar-partitions';
import { createLogger, Logger } from '../../shared/runtime/log';
import { armCrash, crashPoint } from '../../shared/runtime/crash-points';
import { DependencyHealth } from '../../shared/runtime/dependency-health';
import type { FatalError } from '../../shared/runtime/failures';
import { createMetricsRegistry, registerHealthMetrics } from '../../shared/runtime/metrics';
import { exitOnFatal, startWorkerHealth } from '../../shared/runtime/worker-health';
import { handleHelp, loadConfigOrExit, onShutdown } from '../../shared/runtime/process';
import { GapTracker } from './continuity';
import { IngestCore, IngestPorts, InboundMessage } from './core';
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
  const calendars = new DbCalendars(knex, (err) =>
    log.warn('reloading trading calendars failed; keeping the ones loaded', { err }),
  );
  await calendars.load();
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
    new ContinuityStore(redis, config.redisNamespace),
    gapStore,
    outbox,
    log,
    config.gapGraceMs,
    calendars,
  );

  const registry = createMetricsRegistry('ingest');
  const health = new DependencyHealth({
    livenessTimeoutMs: config.health.livenessTimeoutMs,
    outageBudgetMs: config.health.outageBudgetMs,
  });
  registerHealthMetrics(registry, health);
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
    catalog,
    resolveSeries: (s) => series.resolve(s),
    write: (rows, spans) => writeFlush(knex, rows, spans),
    deadLetter: (rejected) => sendDeadLetters(producer, c.topics.barsDlq, rejected),
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
  };
  const core = new IngestCore(
    hooks.wrapPorts ? hooks.wrapPorts(ports) : ports,
    {
      flushMaxBars: config.flushMaxBars,
      flushMaxWaitMs: config.flushMaxWaitMs,
      // A flush can only fill up if that many messages may wait.
      maxPendingBars: Math.max(config.maxPendingBars, config.flushMaxBars),
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
      const messages: InboundMessage[] = batch.messages.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        timestampMs: Number(m.timestamp),
        headers: headersOf(m.headers),
      }));
      metrics.lag(batch.topic, batch.partition, Number(batch.offsetLag()));
      await core.submit(messages, heartbeat);
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
  log.info('ingest worker started', {
    topic: c.topics.bars,
    groupId: config.groupId,
    flushMaxBars: config.flushMaxBars,
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
  handleHelp(process.argv, USAGE, readIngestConfig);
  const config = loadConfigOrExit(readIngestConfig);
  const log = createLogger({ worker: 'ingest', pid: process.pid }, config.logLevel);
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
