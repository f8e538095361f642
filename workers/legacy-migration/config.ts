import fs from 'node:fs';
import { EnvReader } from '../../shared/runtime/config';
import { Connections, readConnections } from '../../shared/runtime/connections';
import {
  EMPTY_MAPPING,
  LegacyMapping,
  mergeMappings,
  parseMappingEntries,
  parseMappingJson,
} from '../../shared/domain/legacy';

export interface LegacyMigrationConfig {
  connections: Connections;
  legacyTable: string;
  mapping: LegacyMapping;
  chunkBars: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function readLegacyMigrationConfig(env: EnvReader): LegacyMigrationConfig {
  const connections = readConnections(env, 'bar-ingest-legacy-migration');
  const legacyTable = env.string(
    'BI_LEGACY_BARS_TABLE',
    'run_bars',
    'legacy per-run bar table (run_id, symbol, timeframe, ts_utc, open, high, low, close, volume)',
  );
  if (!IDENTIFIER.test(legacyTable)) {
    env.problem(`BI_LEGACY_BARS_TABLE=${JSON.stringify(legacyTable)} is not a plain lower-case table name`);
  }
  const file = env.string(
    'BI_LEGACY_MAPPING_FILE',
    '',
    'JSON file {"runs": {"<run_id>": "Provider/Venue"}, "symbols": {"<SYMBOL>": "Provider/Venue"}}',
  );
  const inline = parseMappingEntries(
    env.list(
      'BI_LEGACY_MAPPING',
      [],
      'provider/venue for legacy rows, as run:<run_id>=Provider/Venue,symbol:<SYMBOL>=Provider/Venue (a run rule wins over a symbol rule; overrides the file)',
    ),
  );
  inline.problems.forEach((p) => env.problem(`BI_LEGACY_MAPPING: ${p}`));
  let fromFile = EMPTY_MAPPING;
  if (file !== '') {
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      env.problem(`BI_LEGACY_MAPPING_FILE=${JSON.stringify(file)} cannot be read: ${(err as Error).message}`);
    }
    if (text !== undefined) {
      const parsed = parseMappingJson(text);
      parsed.problems.forEach((p) => env.problem(`BI_LEGACY_MAPPING_FILE ${file}: ${p}`));
      fromFile = parsed.mapping;
    }
  }
  return {
    connections,
    legacyTable,
    mapping: mergeMappings(fromFile, inline.mapping),
    chunkBars: env.int('BI_LEGACY_CHUNK_BARS', 5_000, 'distinct bar open times per chunk (one transaction each)', {
      min: 1,
      max: 1_000_000,
    }),
  };
}
