/**
 * The dead-letter topics: a rejected message travels with its original key, bytes and headers,
 * plus headers saying why and where it came from, so a person can act on it (fix the exporter,
 * register a venue) and replay it. Every worker dead-letters through this one function.
 */
import type { KafkaMessage, Producer } from 'kafkajs';
import { DLQ_HEADERS, KafkaRecord } from '../contract';

/** A header value is capped so that a long reason can never make the dead letter itself too large. */
const MAX_REASON_CHARS = 2_000;

export interface DeadLetter {
  message: KafkaRecord;
  code: string;
  reason: string;
}

/** Sends dead letters to `topic`; resolves once the broker acknowledged all of them (acks=all). */
export async function sendDeadLetters(producer: Producer, topic: string, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  await producer.send({
    topic,
    acks: -1,
    messages: letters.map(({ message: m, code, reason }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.headers)) if (v !== undefined) headers[k] = v;
      return {
        key: m.key,
        value: m.value,
        headers: {
          ...headers,
          [DLQ_HEADERS.code]: code,
          [DLQ_HEADERS.reason]: reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}...` : reason,
          [DLQ_HEADERS.topic]: m.topic,
          [DLQ_HEADERS.partition]: String(m.partition),
          [DLQ_HEADERS.offset]: m.offset,
          [DLQ_HEADERS.timestamp]: String(m.timestampMs),
        },
      };
    }),
  });
}

/** kafkajs headers (Buffer, string or arrays of them) as the plain strings the workers use. */
export function headersOf(
  raw: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    out[k] = first === undefined ? undefined : first.toString();
  }
  return out;
}

/** A fetched kafkajs message of `batch` as the KafkaRecord the workers' logic sees (what a dead letter carries back). */
export function kafkaRecordOf(batch: { topic: string; partition: number }, m: KafkaMessage): KafkaRecord {
  return {
    topic: batch.topic,
    partition: batch.partition,
    offset: m.offset,
    key: m.key,
    value: m.value,
    timestampMs: Number(m.timestamp),
    headers: headersOf(m.headers),
  };
}
