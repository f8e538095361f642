/**
 * The two kafkajs ceilings: what one Node process can do on the bench topic before bar-ingest's own
 * work. `consume`: fetch and commit only, with the ingest worker's consumer settings. `decode`: the
 * same plus an avsc decode of every message (Confluent wire format, types from the registry, cached
 * by schema id), which is the least any Avro consumer must do.
 */
import type { Kafka } from 'kafkajs';
import type { Type } from 'avsc';
import type { RegistryCodec } from '../../shared/adapters/registry';
import type { IngestConfig } from '../../workers/ingest/config';

export type CeilingKind = 'consume' | 'decode';

export interface CeilingResult {
  kind: CeilingKind;
  messages: number;
  /** From the first batch fetched to the commit that reached the end of the topic. */
  seconds: number;
  messagesPerSec: number;
  /** From consumer.run (the group join included). */
  secondsFromRun: number;
  decoded: number;
}

/** The ingest worker's consumer options (workers/ingest/main.ts), from its own configuration. */
export function ingestConsumerOptions(config: IngestConfig, groupId: string) {
  return {
    groupId,
    sessionTimeout: config.sessionTimeoutMs,
    heartbeatInterval: 3_000,
    maxBytes: config.fetchMaxBytes,
    maxBytesPerPartition: config.fetchMaxBytesPerPartition,
    maxWaitTimeInMs: 500,
  };
}

export async function runCeiling(
  kind: CeilingKind,
  kafka: Kafka,
  codec: RegistryCodec,
  config: IngestConfig,
  opts: { topic: string; groupId: string; messages: number; timeoutMs: number },
): Promise<CeilingResult> {
  const consumer = kafka.consumer(ingestConsumerOptions(config, opts.groupId));
  const types = new Map<number, Type>();
  const typeOf = async (id: number): Promise<Type> => {
    let type = types.get(id);
    if (!type) types.set(id, (type = (await codec.client.getSchema(id)) as unknown as Type));
    return type;
  };
  let committed = 0;
  let decoded = 0;
  let firstAt = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    const runAt = performance.now();
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: config.partitionsConcurrently,
      eachBatch: async ({ batch, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        if (!firstAt) firstAt = performance.now();
        if (kind === 'decode') {
          for (const m of batch.messages) {
            const v = m.value!;
            const type = await typeOf(v.readUInt32BE(1));
            if (type.fromBuffer(v.subarray(5)) !== undefined) decoded++;
          }
        }
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() },
        ]);
        committed += batch.messages.length;
        if (committed >= opts.messages) done();
      },
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${kind} ceiling: ${committed} of ${opts.messages} after ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      ).unref(),
    );
    await Promise.race([finished, timeout]);
    const endAt = performance.now();
    return {
      kind,
      messages: committed,
      seconds: (endAt - firstAt) / 1000,
      messagesPerSec: committed / ((endAt - firstAt) / 1000),
      secondsFromRun: (endAt - runAt) / 1000,
      decoded,
    };
  } finally {
    await consumer.disconnect();
  }
}
