import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Type } from 'avsc';
import { RejectError } from '../domain/errors';

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

function isNotFound(err: unknown): boolean {
  const e = err as { status?: number; message?: string };
  return e.status === 404 || /not found/i.test(e.message ?? '');
}

/** How to reach the registry beyond its URL: basic auth and a TLS agent (custom CA). */
export interface RegistryAccess {
  auth?: { username: string; password: string };
  agent?: http.Agent;
}

/** How long a "schema id is not under this subject" answer is trusted before asking again. */
const SUBJECT_RECHECK_MS = 10_000;

export class RegistryCodec implements AvroCodec {
  readonly client: SchemaRegistry;
  private readonly types = new Map<number, Type>();
  /** Subjects each schema id is registered under, and when that was asked. */
  private readonly subjectsById = new Map<number, { subjects: Set<string>; askedAt: number }>();

  constructor(
    private readonly url: string,
    private readonly access: RegistryAccess = {},
  ) {
    this.client = new SchemaRegistry({ host: url, auth: access.auth, agent: access.agent });
  }

  /** GET a registry path as JSON; an HTTP error carries its status (the failure taxonomy reads it). */
  private getJson(path: string): Promise<unknown> {
    const target = new URL(this.url.replace(/\/$/, '') + path);
    const get = target.protocol === 'https:' ? https.get : http.get;
    const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json' };
    if (this.access.auth) {
      const { username, password } = this.access.auth;
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    return new Promise((resolve, reject) => {
      const req = get(target, { headers, agent: this.access.agent, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 500) >= 300) {
            reject(
              Object.assign(new Error(`registry answered ${res.statusCode} for ${path}: ${body}`), {
                status: res.statusCode,
              }),
            );
          } else resolve(JSON.parse(body));
        });
        res.on('error', reject);
      });
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error(`registry timed out on ${path}`), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
    });
  }

  private async subjectsOf(id: number, fresh: boolean): Promise<Set<string>> {
    const seen = this.subjectsById.get(id);
    if (seen && (!fresh || Date.now() - seen.askedAt < SUBJECT_RECHECK_MS)) return seen.subjects;
    const versions = (await this.getJson(`/schemas/ids/${id}/versions`)) as Array<{ subject: string }>;
    const subjects = new Set(versions.map((v) => v.subject));
    this.subjectsById.set(id, { subjects, askedAt: Date.now() });
    return subjects;
  }

  /** WRONG_SCHEMA unless schema `id` is registered under the topic's subject. */
  private async checkSubject(id: number, type: Type, topic: string): Promise<void> {
    const subject = `${topic}-value`;
    if ((await this.subjectsOf(id, false)).has(subject)) return;
    // Registered under the subject since we last asked? Ask again (rate-limited per id).
    const subjects = await this.subjectsOf(id, true);
    if (subjects.has(subject)) return;
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
    if (message.length < 5 || message[0] !== 0) {
      throw new RejectError('DECODE_FAILED', 'payload is not in the Confluent wire format (magic byte 0 + schema id)');
    }
    const id = message.readUInt32BE(1);
    const type = await this.typeOf(id);
    if (topic !== undefined) await this.checkSubject(id, type, topic);
    try {
      // fromBuffer rejects trailing bytes as well as truncated ones.
      return type.fromBuffer(message.subarray(5));
    } catch (err) {
      throw new RejectError(
        'DECODE_FAILED',
        `Avro body does not match schema ${message.readUInt32BE(1)}: ${(err as Error).message}`,
      );
    }
  }

  async encode(schemaId: number, value: unknown): Promise<Buffer> {
    return this.client.encode(schemaId, value);
  }
}
