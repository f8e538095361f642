/**
 * Trading calendars in the database: list them, seed them from JSON files, and re-evaluate the
 * open gaps of series whose venue has a calendar (gaps detected before it had one).
 *
 *   make calendars                                   # list calendars, venue rules, date ranges
 *   make calendars-seed [FILE=my-venue.json]         # upsert data/calendars/*.json (or FILE)
 *   make calendars-reevaluate [VENUE=CME]            # cut open gaps to the bars that should exist
 */
import { createKnex } from '../shared/adapters/postgres';
import {
  CALENDAR_DIR,
  loadCalendarBook,
  readCalendarFiles,
  reevaluateOpenGaps,
  seedCalendars,
} from '../shared/adapters/calendar-store';
import { GapStore } from '../shared/adapters/gap-store';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { loadConfigOrExit } from '../shared/runtime/process';
import { ArgsError, parseArgsOrExit } from '../shared/runtime/args';

const USAGE = `Usage: tsx scripts/calendars.ts <list|seed|reevaluate> [options]

  list                     calendars, their venue rules and the years their holidays cover
  seed [--file PATH]       upsert calendar files (default: every data/calendars/*.json); dates and
                           venue rules added by hand are kept
  reevaluate [--venue V]   cut the open gaps of every series whose venue has a calendar (or of
                           venue V only) to the bars that should exist: trimmed, split, or gone
                           (deleted if never announced, else FILLED with a new event)

Changes reach running workers within a minute (they reload calendars), or at once after a restart.`;

async function main(): Promise<void> {
  const [command = '', ...rest] = process.argv.slice(2);
  const args = parseArgsOrExit(rest, { file: '', venue: '' }, USAGE, () => {
    if (!['list', 'seed', 'reevaluate'].includes(command))
      throw new ArgsError(`unknown command ${JSON.stringify(command)}`);
  });
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-calendars'));
  // Seeding writes reference tables, which only the owner role may do.
  const knex = createKnex(command === 'seed' ? c.pgAdmin : c.pgWorker, { min: 0, max: 2 });
  const out = (line: string): void => void process.stdout.write(line + '\n');
  try {
    if (command === 'seed') {
      const files = readCalendarFiles([args.file || CALENDAR_DIR]);
      await seedCalendars(knex, files);
      out(`seeded ${files.length} calendar(s): ${files.map((f) => f.name).join(', ')}`);
    } else if (command === 'list') {
      const book = await loadCalendarBook(knex);
      const rules = await knex('venue_calendars').orderBy(['venue', 'symbol_pattern']).select('*');
      const years = await knex.raw<{ rows: Array<{ calendar: string; first: number; last: number; days: number }> }>(
        `SELECT calendar, min(extract(year FROM day))::int AS first, max(extract(year FROM day))::int AS last,
                count(*)::int AS days
           FROM trading_calendar_days GROUP BY calendar`,
      );
      for (const [name, cal] of book.calendars) {
        const d = cal.definition!;
        const y = years.rows.find((r) => r.calendar === name);
        out(
          `${name}  ${d.timeZone}  ${d.weekdays.join(',')}  ${d.session.open}${d.session.openDaysBefore ? ` (-${d.session.openDaysBefore}d)` : ''}-${d.session.close}`,
        );
        out(`  ${d.description ?? ''}`);
        out(`  holidays and early closes: ${y ? `${y.days} dates, ${y.first}-${y.last}` : 'none'}`);
      }
      out('\nVenue rules (a symbol pattern wins over the venue-wide rule; other venues are always open):');
      for (const r of rules)
        out(`  ${String(r.venue).padEnd(10)} ${(r.symbol_pattern || '(any symbol)').padEnd(60)} ${r.calendar}`);
    } else {
      const book = await loadCalendarBook(knex);
      const result = await reevaluateOpenGaps(knex, new GapStore(knex), book, { venue: args.venue || undefined });
      out(
        `re-evaluated ${result.gapsExamined} open gap(s) of ${result.series} series with a calendar: ` +
          `${result.gapsTrimmed} trimmed or split, ${result.gapsClosed} were closed time only`,
      );
    }
  } finally {
    await knex.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`calendars failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
