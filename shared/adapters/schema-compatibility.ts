/**
 * Whether every Avro schema in schemas/ is compatible with what the registry holds under its
 * `<topic>-value` subject, through the registry's compatibility API, and why not (naming fields).
 * `scripts/check-schemas.ts` is the command; the tests use these functions directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { registryFetch, SCHEMA_FILES } from './registry';
import type { RegistrySettings, Topics } from '../runtime/connections';

/** The legacy Bar message (no provider, no venue), registered under the bars subject before bar.avsc. */
export const LEGACY_BAR_SCHEMA_FILE = 'bar-v1.avsc';

/** Which topic's subject each schema file belongs to. Bar v1 and v2 share the bars subject. */
export const SUBJECT_TOPIC_OF_FILE: Readonly<Record<string, keyof Topics>> = {
  ...Object.fromEntries(Object.entries(SCHEMA_FILES).map(([topic, file]) => [file, topic as keyof Topics])),
  [LEGACY_BAR_SCHEMA_FILE]: 'bars',
};

export type SchemaStatus = 'compatible' | 'incompatible' | 'unregistered' | 'unmapped' | 'invalid';

export interface SchemaCheck {
  file: string;
  subject: string | null;
  status: SchemaStatus;
  problems: string[];
}

export interface SchemaCheckResult {
  ok: boolean;
  checks: SchemaCheck[];
}

type JsonSchema = avro.Schema;

interface FieldLike {
  name: string;
  type: JsonSchema;
  default?: unknown;
}

interface RecordLike {
  type: 'record';
  name: string;
  fields: FieldLike[];
}

function isRecord(schema: unknown): schema is RecordLike {
  return (
    typeof schema === 'object' &&
    schema !== null &&
    (schema as { type?: unknown }).type === 'record' &&
    Array.isArray((schema as { fields?: unknown }).fields)
  );
}

/**
 * Why a reader schema cannot read data written with a writer schema, naming fields. The registry
 * we run (Apicurio's Confluent API) answers only `is_compatible: false`, so the explanation is
 * computed here: fields the reader adds without a default, then whatever avsc's resolver says.
 */
export function explainIncompatibility(readerJson: string, writerJson: string): string[] {
  const reader = JSON.parse(readerJson) as unknown;
  const writer = JSON.parse(writerJson) as unknown;
  const problems: string[] = [];
  const walk = (r: unknown, w: unknown, where: string): void => {
    if (!isRecord(r) || !isRecord(w)) return;
    const writerFields = new Map(w.fields.map((f) => [f.name, f]));
    for (const field of r.fields) {
      const fieldPath = where ? `${where}.${field.name}` : field.name;
      const old = writerFields.get(field.name);
      if (!old && !('default' in field)) {
        problems.push(
          `field "${fieldPath}" is new and has no default, so data written with the registered schema cannot be read; give it a default (e.g. a union with null first and "default": null)`,
        );
      } else if (old) {
        walk(field.type, old.type, fieldPath);
      }
    }
  };
  walk(reader, writer, isRecord(reader) ? '' : '');
  if (problems.length === 0) {
    try {
      avro.Type.forSchema(reader as JsonSchema).createResolver(avro.Type.forSchema(writer as JsonSchema));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems;
}

interface CompatAnswer {
  registered: boolean;
  compatible: boolean;
  latest?: string;
}

/** Asks the registry whether `schema` is compatible with the subject's latest version. */
async function askRegistry(
  registry: string | RegistrySettings,
  subject: string,
  schema: string,
): Promise<CompatAnswer> {
  const s = encodeURIComponent(subject);
  const latest = await registryFetch(registry, `/subjects/${s}/versions/latest`);
  if (latest.status === 404) return { registered: false, compatible: true };
  if (!latest.ok) throw new Error(`registry answered ${latest.status} for ${subject}: ${await latest.text()}`);
  const latestSchema = ((await latest.json()) as { schema: string }).schema;
  const res = await registryFetch(registry, `/compatibility/subjects/${s}/versions/latest?verbose=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema, schemaType: 'AVRO' }),
  });
  if (!res.ok)
    throw new Error(`registry compatibility check answered ${res.status} for ${subject}: ${await res.text()}`);
  const body = (await res.json()) as { is_compatible: boolean };
  return { registered: true, compatible: body.is_compatible, latest: latestSchema };
}

/** Checks every *.avsc in `dir` against the subjects of `topics`. */
export async function checkSchemas(options: {
  dir: string;
  /** A URL, or settings with the registry's auth and CA. */
  registryUrl: string | RegistrySettings;
  topics: Topics;
}): Promise<SchemaCheckResult> {
  const files = fs
    .readdirSync(options.dir)
    .filter((f) => f.endsWith('.avsc'))
    .sort();
  const checks: SchemaCheck[] = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(options.dir, file), 'utf8');
    const topic = SUBJECT_TOPIC_OF_FILE[file];
    if (!topic) {
      // A schema nobody checks is a schema that can break consumers silently.
      checks.push({
        file,
        subject: null,
        status: 'unmapped',
        problems: [`no topic is configured for ${file}; add it to SCHEMA_FILES or SUBJECT_TOPIC_OF_FILE`],
      });
      continue;
    }
    const subject = `${options.topics[topic]}-value`;
    try {
      avro.Type.forSchema(JSON.parse(text) as JsonSchema);
    } catch (err) {
      checks.push({
        file,
        subject,
        status: 'invalid',
        problems: [`not a valid Avro schema: ${(err as Error).message}`],
      });
      continue;
    }
    const answer = await askRegistry(options.registryUrl, subject, text);
    if (!answer.registered) {
      checks.push({ file, subject, status: 'unregistered', problems: [] });
    } else if (answer.compatible) {
      checks.push({ file, subject, status: 'compatible', problems: [] });
    } else {
      const problems = explainIncompatibility(text, answer.latest ?? '{}');
      checks.push({
        file,
        subject,
        status: 'incompatible',
        problems:
          problems.length > 0 ? problems : ['the registry reports it incompatible (BACKWARD) with the latest version'],
      });
    }
  }
  const ok = checks.every((c) => c.status === 'compatible' || c.status === 'unregistered');
  return { ok, checks };
}

/** One line per schema (`quiet`: only the failing ones), then the verdict. */
export function formatResult(result: SchemaCheckResult, quiet = false): string {
  const shown = quiet ? result.checks.filter((c) => c.problems.length > 0) : result.checks;
  const lines = shown.map((c) => {
    const head = `${c.status === 'compatible' || c.status === 'unregistered' ? 'ok  ' : 'FAIL'} ${c.file} -> ${c.subject ?? '?'}: ${c.status}`;
    return [head, ...c.problems.map((p) => `       ${p}`)].join('\n');
  });
  lines.push(
    result.ok
      ? `schemas: ${result.checks.length} compatible with the registry`
      : 'schemas: INCOMPATIBLE with what the registry holds, see above (BACKWARD: new fields need a default)',
  );
  return lines.join('\n');
}
