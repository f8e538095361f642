import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Type } from 'avsc';
import { RejectError } from '../domain/errors';
import type { RegistrySettings } from '../runtime/connections';

/** Avro in the Confluent wire format: magic byte 0, 4-byte schema id, Avro body. */
export interface AvroCodec {
  /**
   * Decodes a message; with `topic`, only schemas registered under `<topic>-value` are accepted
   * (WRONG_SCHEMA otherwise: a ConnectionStatus on the bars topic is bad input, not a bar).
   */
  decode(message: Buffer, topic?: string): Promise<unknown>;
  encode(schemaId: number, value: unknown): Promise<Buffer>;
}

export const SCHEMAS_DIR = path.resolve(__dirname, '../../schemas');

/** Which schema file describes the values of which topic. */
export const SCHEMA_FILES = {
  bars: 'bar.avsc',
  connectionStatus: 'connection-status.avsc',
  gaps: 'data-gap.avsc',
  historyRequests: 'history-request.avsc',
  historyResponses: 'history-response.avsc',
} as const;

export function readSchema(file: string): string {
  return fs.readFileSync(path.join(SCHEMAS_DIR, file), 'utf8');
}

/** The schema id of a message in the Confluent wire format, or DECODE_FAILED. */
function schemaIdOf(message: Buffer): number {
  if (message.length < 5 || message[0] !== 0) {
    throw new RejectError('DECODE_FAILED', 'payload is not in the Confluent wire format (magic byte 0 + schema id)');
  }
  return message.readUInt32BE(1);
}

function isNotFound(err: unknown): boolean {
  const e = err as { status?: number; message?: string };
  return e.status === 404 || /not found/i.test(e.message ?? '');
}

/** How long a "schema id is not under this subject" answer is trusted before asking again. */
const SUBJECT_RECHECK_MS = 10_000;

export class RegistryCodec implements AvroCodec {
  readonly client: SchemaRegistry;
  private readonly types = new Map<number, Type>();
  private readonly settings: RegistrySettings;
  /** Subjects each schema id is registered under, and when that was asked. */
  private readonly subjectsById = new Map<number, { subjects: Set<string>; askedAt: number }>();
  /** Per topic, the schema ids found registered under its subject: decodable with no registry call. */
  private readonly allowedByTopic = new Map<string, Set<number>>();

  /** A URL (no authentication, system CAs) or settings with basic auth and a CA bundle. */
  constructor(registry: string | RegistrySettings) {
    const settings: RegistrySettings = typeof registry === 'string' ? { url: registry, security: {} } : registry;
    this.settings = settings;
    const { auth, ca } = settings.security;
    this.client = new SchemaRegistry({
      host: settings.url,
      auth,
      // Only https needs an agent: it carries the CA bundle the registry's certificate is checked against.
      agent: ca && settings.url.startsWith('https://') ? new https.Agent({ ca, keepAlive: true }) : undefined,
    });
  }

  private async subjectsOf(id: number, fresh: boolean): Promise<Set<string>> {
    const seen = this.subjectsById.get(id);
    if (seen && (!fresh || Date.now() - seen.askedAt < SUBJECT_RECHECK_MS)) return seen.subjects;
    const res = await registryFetch(this.settings, `/schemas/ids/${id}/versions`, {
      headers: { accept: 'application/vnd.schemaregistry.v1+json' },
    });
    if (!res.ok) {
      // The failure taxonomy reads the status: 5xx is the registry's trouble, not the message's.
      throw Object.assign(new Error(`registry answered ${res.status} for schema id ${id}: ${await res.text()}`), {
        status: res.status,
      });
    }
    const subjects = new Set(((await res.json()) as Array<{ subject: string }>).map((v) => v.subject));
    this.subjectsById.set(id, { subjects, askedAt: Date.now() });
    return subjects;
  }

  /** WRONG_SCHEMA unless schema `id` is registered under the topic's subject. */
  private async checkSubject(id: number, type: Type, topic: string): Promise<void> {
    const subject = `${topic}-value`;
    const allow = (): void => {
      let ids = this.allowedByTopic.get(topic);
      if (!ids) this.allowedByTopic.set(topic, (ids = new Set()));
      ids.add(id);
    };
    if ((await this.subjectsOf(id, false)).has(subject)) return allow();
    // Registered under the subject since we last asked? Ask again (rate-limited per id).
    const subjects = await this.subjectsOf(id, true);
    if (subjects.has(subject)) return allow();
    const names = [...subjects];
    const listed = names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
    throw new RejectError(
      'WRONG_SCHEMA',
      `schema id ${id} (${type.name ?? 'unnamed'}) is registered under ${listed || 'no subject'}, ` +
        `not ${subject}: this message belongs on another topic`,
    );
  }

  /** Registers a schema under `<topic>-value`, BACKWARD compatible, and returns its id. */
  async register(topic: string, schemaJson: string): Promise<number> {
    const subject = `${topic}-value`;
    const { id } = await this.client.register({ type: SchemaType.AVRO, schema: schemaJson }, { subject });
    return id;
  }

  private async typeOf(id: number): Promise<Type> {
    const cached = this.types.get(id);
    if (cached) return cached;
    let type: Type;
    try {
      type = (await this.client.getSchema(id)) as unknown as Type;
    } catch (err) {
      // A registry that is down is a failing dependency, not bad input: let it propagate.
      if (isNotFound(err)) throw new RejectError('UNKNOWN_SCHEMA', `schema id ${id} is not in the registry`);
      throw err;
    }
    this.types.set(id, type);
    return type;
  }

  async decode(message: Buffer, topic?: string): Promise<unknown> {
    const id = schemaIdOf(message);
    const type = await this.typeOf(id);
    if (topic !== undefined) await this.checkSubject(id, type, topic);
    return this.read(type, message);
  }

  /**
   * The decoded value without a promise when the message's schema is known and already found
   * under the topic's subject (every message but the first few of a stream), else undefined: call
   * decode() then. A worker decodes every message, and a promise each was a measurable cost.
   */
  decodeKnown(message: Buffer, topic: string): unknown {
    const id = schemaIdOf(message);
    const type = this.types.get(id);
    if (type === undefined || this.allowedByTopic.get(topic)?.has(id) !== true) return undefined;
    return this.read(type, message);
  }

  private read(type: Type, message: Buffer): unknown {
    let decoded: { value: unknown; offset: number };
    try {
      // Reads in place from offset 5 (fromBuffer would need a sub-buffer per message).
      decoded = type.decode(message, 5);
    } catch (err) {
      throw new RejectError(
        'DECODE_FAILED',
        `Avro body does not match schema ${message.readUInt32BE(1)}: ${(err as Error).message}`,
      );
    }
    // Truncated bodies and trailing bytes are refused, as fromBuffer does.
    if (decoded.offset !== message.length) {
      throw new RejectError(
        'DECODE_FAILED',
        `Avro body does not match schema ${message.readUInt32BE(1)}: ${decoded.offset < 0 ? 'truncated buffer' : 'trailing data'}`,
      );
    }
    return decoded.value;
  }

  async encode(schemaId: number, value: unknown): Promise<Buffer> {
    return this.client.encode(schemaId, value);
  }
}

/** The part of a fetch Response the registry helpers use. */
export interface RegistryResponse {
  status: number;
  ok: boolean;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/**
 * One request to the registry's REST API (`path` after the base URL) with its basic auth and CA
 * bundle: the global fetch can take neither a CA bundle nor, portably, an agent. Network and TLS
 * errors reject as a TypeError, as fetch's do.
 */
export function registryFetch(
  registry: string | RegistrySettings,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RegistryResponse> {
  const settings: RegistrySettings = typeof registry === 'string' ? { url: registry, security: {} } : registry;
  const target = new URL(settings.url.replace(/\/$/, '') + path);
  const secure = target.protocol === 'https:';
  const headers: Record<string, string> = { ...init.headers };
  const { auth, ca } = settings.security;
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      target,
      { method: init.method ?? 'GET', headers, timeout: 10_000, ...(secure && ca ? { ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          resolve({
            status,
            ok: status >= 200 && status < 300,
            text: () => Promise.resolve(body),
            json: () => Promise.resolve(JSON.parse(body) as unknown),
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(Object.assign(new TypeError(`${err.message}`), { cause: err })));
    req.end(init.body);
  });
}
