/**
 * The continuity worker: turns exporter connection events into sessions that classify gaps,
 * asks the exporter to backfill gaps, and settles its answers. Any number may run: history
 * requests are claimed with row locks, so each gap is requested once.
 */
import { Partitioners } from 'kafkajs';
import { Counter } from 'prom-client';
import { createKafka, recordsOf } from '../../shared/adapters/kafka';
import { createKnex } from '../../shared/adapters/postgres';
import { checkConnections } from '../../shared/adapters/preflight';
import { readSchema, RegistryCodec, SCHEMA_FILES } from '../../shared/adapters/registry';
import { DbCatalog } from '../../shared/adapters/catalog';
import { loadWorkerCalendars } from '../../shared/adapters/calendar-store';
import { GapStore } from '../../shared/adapters/gap-store';
import { pgBackfillLedger } from '../../shared/adapters/backfill-ledger';
import { GapOutbox, kafkaGapSink, kafkaHistoryRequestSink } from '../../shared/adapters/gap-events';
import { sendDeadLetters } from '../../shared/adapters/dead-letters';
import { KafkaIngestProgress } from '../../shared/adapters/ingest-progress';
import { createLogger, Logger } from '../../shared/runtime/log';
import { FatalError } from '../../shared/runtime/failures';
import { createWorkerHealth, dependencyFailuresCounter } from '../../shared/runtime/metrics';
import { exitOnFatal, startWorkerHealth } from '../../shared/runtime/worker-health';
import { runWorker } from '../../shared/runtime/process';
import { ContinuityCore, ConnectionStatusEvent, HistoryResponseEvent } from './core';
import { ContinuityConfig, readContinuityConfig } from './config';
import { MessageHandler } from './message-handler';

const USAGE = `bar-ingest continuity worker

Usage: tsx workers/continuity/main.ts [--help]

Consumes exporter connection status and history responses, classifies gaps as OFFLINE,
NO_ACTIVITY or UNKNOWN, requests backfills and settles them (FILLED, NO_DATA, UNFILLABLE).
Bad input goes to the continuity dead-letter topic; a failing dependency is retried and nothing
is skipped: offsets are committed only after a message's effects are stored.

Exit codes: 0 stopped on a signal, 1 could not start, 2 invalid configuration,
3 a dependency failed for longer than BI_OUTAGE_BUDGET_MS, 4 an error no message can be blamed for.`;

export async function startContinuityWorker(
  config: ContinuityConfig,
  log: Logger = createLogger({ worker: 'continuity' }, config.logLevel),
  hooks: { onFatal?: (err: FatalError) => void } = {},
) {
  const c = config.connections;
  // A wrong password or an untrusted certificate stops the worker here, naming the service.
  await checkConnections(c, c.pgWorker, ['postgres', 'kafka', 'registry']);
  const kafka = createKafka(c.kafka, log);
  const knex = createKnex(c.pgWorker, { min: 1, max: 4 });
  const codec = new RegistryCodec(c.registry);
  const catalog = new DbCatalog(knex);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: config.groupId, maxWaitTimeInMs: 500 });
  await catalog.load();
  const calendars = await loadWorkerCalendars(knex, log);
  await producer.connect();
  await consumer.connect();
  const gapSchemaId = await codec.register(c.topics.gaps, readSchema(SCHEMA_FILES.gaps));
  const requestSchemaId = await codec.register(c.topics.historyRequests, readSchema(SCHEMA_FILES.historyRequests));

  const { registry, health } = createWorkerHealth('continuity', config.health);
  const dependencyFailures = dependencyFailuresCounter(registry);
  const consumed = new Counter({
    name: 'bi_continuity_messages_total',
    help: 'connection status events and history responses handled, by topic',
    labelNames: ['topic'],
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'bi_dead_letters_total',
    help: 'messages sent to the dead-letter topic, by error code',
    labelNames: ['code'],
    registers: [registry],
  });
  let stopping = false;
  const onFatal = hooks.onFatal ?? exitOnFatal(log);
  const fatal = (err: FatalError): void => {
    if (!stopping) onFatal(err);
  };

  const historyRequests = kafkaHistoryRequestSink(producer, codec, requestSchemaId, c.topics.historyRequests);
  const gaps = new GapStore(knex);
  const ingestProgress = new KafkaIngestProgress(kafka, c.topics.bars, config.ingestGroupId);
  const outbox = new GapOutbox(knex, gaps, kafkaGapSink(producer, codec, gapSchemaId, c.topics.gaps), config.graceMs);
  const core = new ContinuityCore(
    pgBackfillLedger(knex, gaps),
    outbox,
    {
      send: async (request) => {
        await historyRequests.send(request);
        log.info('history requested', {
          requestId: request.requestId,
          gapId: request.gap.gapId,
          attempt: request.attempt,
        });
      },
    },
    ingestProgress,
    catalog,
    config,
    log,
    calendars,
  );

  const handler = new MessageHandler(
    {
      decode: (value, topic) => codec.decode(value, topic),
      handle: async (topic, decoded) => {
        if (topic === c.topics.connectionStatus) await core.onConnectionStatus(decoded as ConnectionStatusEvent);
        else await core.onHistoryResponse(decoded as HistoryResponseEvent);
        consumed.inc({ topic });
      },
      deadLetter: async (letter) => {
        await sendDeadLetters(producer, c.topics.continuityDlq, [letter]);
        deadLetters.inc({ code: letter.code });
        log.warn('rejected message', {
          code: letter.code,
          reason: letter.reason,
          topic: letter.message.topic,
          partition: letter.message.partition,
          offset: letter.message.offset,
        });
      },
      commit: (offsets) => consumer.commitOffsets(offsets),
    },
    {
      health,
      maxMessageBytes: config.maxMessageBytes,
      retryInitialMs: 200,
      retryMaxMs: 5_000,
      isStopping: () => stopping,
      onDependencyFailure: (step) => dependencyFailures.inc({ dependency: step }),
    },
    log,
  );

  handler.onFatal = fatal;
  consumer.on(consumer.events.GROUP_JOIN, () => handler.rebalanced());
  await consumer.subscribe({ topics: [c.topics.connectionStatus, c.topics.historyResponses], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
      for (const record of recordsOf(batch)) {
        if (!isRunning() || isStale() || stopping) return;
        const outcome = await handler.handle(record, heartbeat);
        if (outcome === 'fatal') return;
      }
    },
  });
  health.markStarted();

  let ticking = Promise.resolve();
  const timer = setInterval(() => {
    ticking = ticking
      .then(() => core.tick())
      .then(
        () => {
          health.recovered('backfill');
          health.progressed();
        },
        (err: unknown) => handler.tickFailed(err),
      );
  }, config.tickMs);
  const probes = await startWorkerHealth({
    settings: config.health,
    health,
    registry,
    probes: [{ name: 'postgres', check: () => knex.raw('SELECT 1') }],
    details: () => ({ handled: handler.handled, deadLettered: handler.deadLettered }),
    log,
    onFatal: fatal,
  });
  log.info('continuity worker started', {
    groupId: config.groupId,
    health: config.health.port === 0 ? 'off' : `${config.health.host}:${config.health.port}`,
  });

  return {
    core,
    handler,
    health,
    async stop(): Promise<void> {
      stopping = true;
      clearInterval(timer);
      probes.stop();
      await ticking;
      await consumer.disconnect();
      await outbox.idle();
      await ingestProgress.close();
      await producer.disconnect();
      catalog.close();
      await knex.destroy();
    },
  };
}

if (require.main === module) {
  runWorker({ name: 'continuity', usage: USAGE, readConfig: readContinuityConfig, start: startContinuityWorker });
}
