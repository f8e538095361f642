import type { Admin, Kafka } from 'kafkajs';
import type { TopicPosition } from '../domain/backfill';

/** End offsets of `topic` now, per partition. */
export async function topicEnd(admin: Admin, topic: string): Promise<TopicPosition> {
  const ends = await admin.fetchTopicOffsets(topic);
  return Object.fromEntries(ends.map((p) => [String(p.partition), Number(p.high)]));
}

/** Offsets `groupId` has committed on `topic`, per partition (-1 for none). */
export async function committedOffsets(admin: Admin, topic: string, groupId: string): Promise<TopicPosition> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries((committed?.partitions ?? []).map((p) => [String(p.partition), Number(p.offset)]));
}

/**
 * Where the ingest consumer group stands on the bars topic, through one admin client (connected
 * on first use). The ingest workers commit offsets only after the bars before them are stored
 * and their gaps updated, so a committed offset past a position means everything before it is.
 */
export class KafkaIngestProgress {
  private admin: Promise<Admin> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly barsTopic: string,
    private readonly ingestGroupId: string,
  ) {}

  private connected(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      try {
        await admin.connect();
      } catch (err) {
        this.admin = undefined;
        throw err;
      }
      return admin;
    })();
    return this.admin;
  }

  async barsEnd(): Promise<TopicPosition> {
    return topicEnd(await this.connected(), this.barsTopic);
  }

  async committed(): Promise<TopicPosition> {
    return committedOffsets(await this.connected(), this.barsTopic, this.ingestGroupId);
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await (await admin?.catch(() => undefined))?.disconnect();
  }
}
