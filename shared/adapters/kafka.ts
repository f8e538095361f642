import { Admin, Batch, IHeaders, Kafka, KafkaConfig, KafkaMessage, logLevel, LogEntry, SASLOptions } from 'kafkajs';
import type { KafkaRecord } from '../contract';
import type { Logger } from '../runtime/log';
import type { KafkaSettings, Topics } from '../runtime/connections';
import type { KafkaSecurity } from '../runtime/security';
import { sleep } from '../runtime/sleep';

const LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs `ssl` and `sasl` options for a security protocol (PLAINTEXT gives neither). */
export function kafkaSecurityOptions(security: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (!security) return {};
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.tls) {
    const { ca, cert, key } = security.tls;
    out.ssl = ca || cert ? { ca, cert, key } : true;
  }
  if (security.sasl) {
    const { mechanism, username, password } = security.sasl;
    out.sasl = { mechanism: mechanism.toLowerCase(), username, password } as SASLOptions;
  }
  return out;
}

export function createKafka(
  kafka: Pick<KafkaSettings, 'brokers' | 'clientId'> & Partial<Pick<KafkaSettings, 'security'>>,
  log: Logger,
  retries = 8,
): Kafka {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: kafka.clientId,
    brokers: kafka.brokers,
    ...kafkaSecurityOptions(kafka.security),
    // kafkajs INFO is chatty (every join and commit); keep warnings and errors.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...fields } = entry;
        kafkaLog[LEVEL[level] ?? 'info'](String(message), fields);
      },
    retry: { initialRetryTime: 200, retries },
  });
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
}

/** Partition counts the design needs: bars and gaps keyed by series, spread wide. */
export function topicSpecs(topics: Topics): TopicSpec[] {
  return [
    { topic: topics.bars, numPartitions: 12 },
    { topic: topics.connectionStatus, numPartitions: 3 },
    { topic: topics.gaps, numPartitions: 12 },
    { topic: topics.historyRequests, numPartitions: 3 },
    { topic: topics.historyResponses, numPartitions: 3 },
    { topic: topics.barsDlq, numPartitions: 3 },
    { topic: topics.continuityDlq, numPartitions: 3 },
  ];
}

/**
 * Creates the topics that do not exist yet; returns the names created. Right after creation the
 * broker may briefly answer metadata requests with "does not host this topic-partition" while
 * leaders are elected, so that case is retried.
 */
export async function ensureTopics(admin: Admin, specs: TopicSpec[], attempts = 5): Promise<string[]> {
  const created: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return created;
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.numPartitions, replicationFactor: 1 })),
      });
      created.push(...missing.map((s) => s.topic));
    } catch (err) {
      const retriable =
        (err as { retriable?: boolean }).retriable === true || /does not host|not the leader/i.test(String(err));
      if (!retriable || attempt >= attempts) throw err;
      await sleep(200 * attempt);
    }
  }
}

/** Messages on `topic` that consumer group `groupId` has not committed yet. */
export async function consumerLag(admin: Admin, topic: string, groupId: string): Promise<number> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  let total = 0;
  for (const end of ends) {
    const c = committed?.partitions.find((p) => p.partition === end.partition);
    const at = c && Number(c.offset) >= 0 ? Number(c.offset) : 0;
    total += Number(end.high) - at;
  }
  return total;
}

/** kafkajs headers (Buffer, string or arrays of them) as the plain strings the workers use. */
export function headersOf(raw: IHeaders | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    out[k] = first === undefined ? undefined : first.toString();
  }
  return out;
}

/**
 * A fetched record as the workers see it. Its headers are decoded only when read: the ingest hot
 * path never reads them (only legacy bars and dead letters do), and decoding every header of
 * every message was a measurable share of a worker's CPU.
 */
class FetchedRecord implements KafkaRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestampMs: number;
  private readonly rawHeaders: IHeaders | undefined;
  private decodedHeaders: Record<string, string | undefined> | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    m: KafkaMessage,
  ) {
    this.offset = m.offset;
    this.key = m.key;
    this.value = m.value;
    this.timestampMs = Number(m.timestamp);
    this.rawHeaders = m.headers;
  }

  get headers(): Record<string, string | undefined> {
    return (this.decodedHeaders ??= headersOf(this.rawHeaders));
  }
}

/** The records of one fetched batch. */
export function recordsOf(batch: Pick<Batch, 'topic' | 'partition' | 'messages'>): KafkaRecord[] {
  const out = new Array<KafkaRecord>(batch.messages.length);
  for (let i = 0; i < out.length; i++) out[i] = new FetchedRecord(batch.topic, batch.partition, batch.messages[i]!);
  return out;
}
