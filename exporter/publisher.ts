import type { Producer, Message } from 'kafkajs';
import type { WireBar } from '../shared/domain/bar';
import type { RegistryCodec } from '../shared/adapters/registry';
import { readSchema, SCHEMA_FILES } from '../shared/adapters/registry';
import { EXPORTER_HEADER } from '../shared/contract';

/**
 * Publishes bars the way an exporter must: Avro in the Confluent wire format under
 * `<topic>-value`, keyed by the series as the exporter spells it (so one series stays on one
 * partition and in order), with the exporter's id in a header.
 */
export class BarPublisher {
  private schemaId: number | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly codec: RegistryCodec,
    private readonly topic: string,
    private readonly exporterId: string,
  ) {}

  static keyOf(bar: WireBar): string {
    return `${bar.provider ?? ''}|${bar.venue ?? ''}|${bar.symbol}|${bar.timeframe}`;
  }

  async init(): Promise<number> {
    this.schemaId ??= await this.codec.register(this.topic, readSchema(SCHEMA_FILES.bars));
    return this.schemaId;
  }

  async encode(bar: WireBar): Promise<Message> {
    const id = await this.init();
    return {
      key: BarPublisher.keyOf(bar),
      value: await this.codec.encode(id, bar),
      headers: { [EXPORTER_HEADER]: this.exporterId },
    };
  }

  /** Sends in chunks, each acknowledged by all in-sync replicas before the next. */
  async publish(bars: WireBar[], chunk = 5_000): Promise<void> {
    for (let i = 0; i < bars.length; i += chunk) {
      const messages = await Promise.all(bars.slice(i, i + chunk).map((b) => this.encode(b)));
      await this.sendRaw(messages);
    }
  }

  async sendRaw(messages: Message[]): Promise<void> {
    await this.producer.send({ topic: this.topic, acks: -1, messages });
  }
}
