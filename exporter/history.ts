import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { WireBar } from '../shared/domain/bar';
import type { Topics } from '../shared/runtime/connections';
import type { Logger } from '../shared/runtime/log';
import { readSchema, RegistryCodec, SCHEMA_FILES } from '../shared/adapters/registry';
import { BarPublisher } from './publisher';

export interface HistoryRequest {
  request_id: string;
  gap_id: string;
  series: { series_id: number; symbol: string; timeframe: string; provider: string; venue: string };
  from_utc: number;
  to_utc: number;
  attempt: number;
}

/**
 * Where an exporter's history comes from: the bars it has for a range (possibly none), or null
 * when it cannot answer at all (the request then goes unanswered and the workers retry).
 */
export type HistoryLookup = (request: HistoryRequest) => WireBar[] | null | Promise<WireBar[] | null>;

/**
 * How an exporter answers history requests: republish the bars of the range with source HISTORY
 * and the request id (through the normal bar topic, so the workers store them like any bar),
 * then a HistoryResponse saying how many it sent.
 */
export class HistoryResponder {
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly codec: RegistryCodec,
    private readonly topics: Topics,
    private readonly groupId: string,
    private readonly lookup: HistoryLookup,
    private readonly log: Logger,
  ) {}

  async start(exporterId: string): Promise<void> {
    const bars = new BarPublisher(this.producer, this.codec, this.topics.bars, exporterId);
    const responseSchemaId = await this.codec.register(
      this.topics.historyResponses,
      readSchema(SCHEMA_FILES.historyResponses),
    );
    this.consumer = this.kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 500 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topics.historyRequests, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        const request = (await this.codec.decode(message.value)) as HistoryRequest;
        const found = await this.lookup(request);
        if (found === null) return;
        await bars.publish(
          found.map((b) => ({
            ...b,
            source: 'HISTORY' as const,
            history_request_id: request.request_id,
            run_id: null,
          })),
        );
        const value = await this.codec.encode(responseSchemaId, {
          request_id: request.request_id,
          bars_sent: found.length,
          status: found.length > 0 ? 'OK' : 'NO_DATA',
          message: null,
        });
        await this.producer.send({
          topic: this.topics.historyResponses,
          acks: -1,
          messages: [{ key: request.gap_id, value }],
        });
        this.log.info('history request answered', { requestId: request.request_id, bars: found.length });
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** Publishes an exporter connection status event (keyed by provider and venue). */
export async function publishConnectionStatus(
  producer: Producer,
  codec: RegistryCodec,
  topic: string,
  event: {
    provider: string;
    venue: string;
    status: 'CONNECTED' | 'DISCONNECTED';
    ts_utc: number;
    reason?: string | null;
  },
): Promise<void> {
  const id = await codec.register(topic, readSchema(SCHEMA_FILES.connectionStatus));
  const value = await codec.encode(id, { reason: null, ...event });
  await producer.send({ topic, acks: -1, messages: [{ key: `${event.provider}|${event.venue}`, value }] });
}
