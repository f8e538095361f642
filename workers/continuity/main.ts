/**
 * The continuity worker: turns exporter connection events into sessions that classify gaps,
 * asks the exporter to backfill gaps, and settles its answers. Any number may run: history
 * requests are claimed with row locks, so each gap is requested once.
 */
import { Partitioners } from 'kafkajs';
import { createKafka } from '../../shared/adapters/kafka';
import { createKnex } from '../../shared/adapters/postgres';
import { readSchema, RegistryCodec, SCHEMA_FILES } from '../../shared/adapters/registry';
import { DbCatalog } from '../../shared/adapters/catalog';
import { GapStore } from '../../shared/adapters/gap-store';
import { BackfillStore } from '../../shared/adapters/backfill-store';
import { GapOutbox, kafkaGapSink } from '../../shared/adapters/gap-events';
import { KafkaIngestProgress } from '../../shared/adapters/ingest-progress';
import { seriesKey } from '../../shared/domain/series';
import { createLogger } from '../../shared/runtime/log';
import { handleHelp, loadConfigOrExit, onShutdown } from '../../shared/runtime/process';
import { ContinuityCore, ConnectionStatusEvent, HistoryResponseEvent } from './core';
import { ContinuityConfig, readContinuityConfig } from './config';

const USAGE = `bar-ingest continuity worker

Usage: tsx workers/continuity/main.ts [--help]

Consumes exporter connection status and history responses, classifies gaps as OFFLINE,
NO_ACTIVITY or UNKNOWN, requests backfills and settles them (FILLED, NO_DATA, UNFILLABLE).`;

export async function startContinuityWorker(config: ContinuityConfig, log = createLogger({ worker: 'continuity' })) {
  const c = config.connections;
  const kafka = createKafka(c.kafka, log);
  const knex = createKnex(c.pgWorker, { min: 1, max: 4 });
  const codec = new RegistryCodec(c.registryUrl);
  const catalog = new DbCatalog(knex);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: config.groupId, maxWaitTimeInMs: 500 });
  await catalog.load();
  await producer.connect();
  await consumer.connect();
  const gapSchemaId = await codec.register(c.topics.gaps, readSchema(SCHEMA_FILES.gaps));
  const requestSchemaId = await codec.register(c.topics.historyRequests, readSchema(SCHEMA_FILES.historyRequests));

  const gaps = new GapStore(knex);
  const ingestProgress = new KafkaIngestProgress(kafka, c.topics.bars, config.ingestGroupId);
  const outbox = new GapOutbox(knex, gaps, kafkaGapSink(producer, codec, gapSchemaId, c.topics.gaps), config.graceMs);
  const core = new ContinuityCore(
    knex,
    gaps,
    new BackfillStore(),
    outbox,
    {
      send: async ({ requestId, gap, attempt }) => {
        const value = await codec.encode(requestSchemaId, {
          request_id: requestId,
          gap_id: gap.gapId,
          series: {
            series_id: gap.seriesId,
            symbol: gap.symbol,
            timeframe: gap.timeframe,
            provider: gap.provider,
            venue: gap.venue,
          },
          from_utc: gap.fromMs,
          to_utc: gap.toMs,
          attempt,
        });
        await producer.send({ topic: c.topics.historyRequests, acks: -1, messages: [{ key: seriesKey(gap), value }] });
        log.info('history requested', { requestId, gapId: gap.gapId, attempt });
      },
    },
    ingestProgress,
    catalog,
    config,
    log,
  );

  await consumer.subscribe({ topics: [c.topics.connectionStatus, c.topics.historyResponses], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      if (!message.value) return;
      let decoded: unknown;
      try {
        decoded = await codec.decode(message.value);
      } catch (err) {
        log.warn('undecodable message skipped', { topic, offset: message.offset, err });
        return;
      }
      if (topic === c.topics.connectionStatus) await core.onConnectionStatus(decoded as ConnectionStatusEvent);
      else await core.onHistoryResponse(decoded as HistoryResponseEvent);
    },
  });

  let ticking = Promise.resolve();
  const timer = setInterval(() => {
    ticking = ticking
      .then(() => core.tick())
      .catch((err: unknown) => log.warn('backfill round failed; will retry', { err }));
  }, config.tickMs);
  log.info('continuity worker started', { groupId: config.groupId });

  return {
    core,
    async stop(): Promise<void> {
      clearInterval(timer);
      await ticking;
      await consumer.disconnect();
      await ingestProgress.close();
      await producer.disconnect();
      catalog.close();
      await knex.destroy();
    },
  };
}

if (require.main === module) {
  handleHelp(process.argv, USAGE, readContinuityConfig);
  const config = loadConfigOrExit(readContinuityConfig);
  const log = createLogger({ worker: 'continuity', pid: process.pid });
  startContinuityWorker(config, log).then(
    (worker) => onShutdown(log, config.shutdownTimeoutMs, () => worker.stop()),
    (err: unknown) => {
      log.error('could not start', { err });
      process.exit(1);
    },
  );
}
