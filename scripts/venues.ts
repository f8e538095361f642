/**
 * Reference data administration: list, add and change providers, venues (quote currencies) and
 * symbol aliases. Logic in shared/adapters/reference-data.ts; changes reach running workers within
 * seconds (they poll reference_data_version), no restart.
 *
 *   make venues ARGS='add-venue --name Bitstamp --quotes USD,EUR,BTC'
 */
import { createKnex } from '../shared/adapters/postgres';
import { ReferenceDataAdmin } from '../shared/adapters/reference-data';
import { ReferenceDataError } from '../shared/domain/reference-data';
import { CATALOG_REFRESH_MS } from '../shared/adapters/catalog';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { ArgsError, parseArgs } from '../shared/runtime/args';
import { loadConfigOrExit } from '../shared/runtime/process';

const USAGE = `Usage: tsx scripts/venues.ts <command> [options]     (or: make venues ARGS='<command> [options]')

Reference data: providers, venues with their quote currencies, and per-venue symbol aliases.
Every change is validated, and running workers pick it up within about ${CATALOG_REFRESH_MS / 1000} s (no restart).

Commands:
  list [--json]                                       everything registered
  add-provider --name Quantower                       register a provider (data source application)
  add-venue --name Bitstamp [--quotes USD,EUR]        register a venue and the quote currencies that split
                                                      its concatenated tickers (BTCUSD -> BTC/USD)
  set-quotes --venue Bitstamp --quotes USD,EUR        replace a venue's quote currencies
  add-quotes --venue Bitstamp --quotes GBP            add quote currencies
  remove-quotes --venue Bitstamp --quotes GBP         remove quote currencies
  set-alias --venue Kraken --kind ASSET --alias XBT --canonical BTC
                                                      add or change an alias: ASSET maps one asset spelling,
                                                      TICKER a whole ticker (XXBTZUSD -> BTC/USD)
  remove-alias --venue Kraken --kind ASSET --alias XBT

Names match case-insensitively, as the workers match them. Bars already dead-lettered as
UNKNOWN_VENUE/UNKNOWN_PROVIDER are not replayed: re-send them after registering.
Connection settings come from the environment (BI_PG_*; see any worker's --help).`;

const COMMANDS = [
  'list',
  'add-provider',
  'add-venue',
  'set-quotes',
  'add-quotes',
  'remove-quotes',
  'set-alias',
  'remove-alias',
] as const;

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

async function run(admin: ReferenceDataAdmin, command: string, argv: string[]): Promise<string> {
  const a = parseArgs(argv, { name: '', venue: '', quotes: '', kind: '', alias: '', canonical: '', json: false });
  const need = (...keys: Array<keyof typeof a>): void => {
    for (const k of keys) if (!a[k]) throw new ArgsError(`${command} needs --${k}`);
  };
  switch (command) {
    case 'list': {
      const all = await admin.list();
      if (a.json) return JSON.stringify(all, null, 2);
      const lines = [`reference data version ${all.version}`, `providers: ${all.providers.join(', ')}`, 'venues:'];
      for (const v of all.venues) {
        lines.push(`  ${v.name}  quotes: ${v.quotes.join(',') || '(none: tickers are kept as they are)'}`);
        for (const [k, m] of [
          ['ASSET', v.assetAliases],
          ['TICKER', v.tickerAliases],
        ] as const) {
          const entries = Object.entries(m);
          if (entries.length > 0) lines.push(`    ${k}: ${entries.map(([x, y]) => `${x}->${y}`).join(' ')}`);
        }
      }
      return lines.join('\n');
    }
    case 'add-provider':
      need('name');
      await admin.addProvider(a.name);
      return `provider ${a.name} registered`;
    case 'add-venue':
      need('name');
      await admin.addVenue(a.name, list(a.quotes));
      return `venue ${a.name} registered (quotes: ${list(a.quotes).join(',').toUpperCase() || 'none'})`;
    case 'set-quotes':
    case 'add-quotes':
    case 'remove-quotes': {
      need('venue', 'quotes');
      const op = command.split('-')[0] as 'set' | 'add' | 'remove';
      const quotes = await admin.changeQuotes(a.venue, { [op]: list(a.quotes) });
      return `${a.venue} quotes: ${quotes.join(',') || 'none'}`;
    }
    case 'set-alias':
      need('venue', 'kind', 'alias', 'canonical');
      await admin.setAlias(a.venue, a.kind.toUpperCase(), a.alias, a.canonical);
      return `${a.venue} ${a.kind.toUpperCase()} alias ${a.alias.toUpperCase()} -> ${a.canonical.toUpperCase()}`;
    case 'remove-alias':
      need('venue', 'kind', 'alias');
      await admin.removeAlias(a.venue, a.kind, a.alias);
      return `${a.venue} ${a.kind.toUpperCase()} alias ${a.alias.toUpperCase()} removed`;
    default:
      throw new ArgsError(`unknown command ${JSON.stringify(command)}`);
  }
}

async function main(): Promise<void> {
  const [command = 'list', ...rest] = process.argv.slice(2);
  if (command === '--help' || command === '-h' || rest.includes('--help')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
    process.exit(2);
  }
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-venues'));
  const knex = createKnex(c.pgAdmin, { min: 0, max: 2 });
  try {
    process.stdout.write((await run(new ReferenceDataAdmin(knex), command, rest)) + '\n');
  } catch (err) {
    if (err instanceof ArgsError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (err instanceof ReferenceDataError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      process.exitCode = 1;
    } else throw err;
  } finally {
    await knex.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`venues failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
