/**
 * What the analyst sees before a backtest: for one series and a time range, the covered
 * intervals, the gaps (as detected, and what is still missing of each) with kind and status, and
 * the exporter's offline periods. Covered intervals follow the venue's trading calendar: a closed
 * market (a night, a weekend, a holiday) does not break one.
 *
 *   make coverage SERIES='Quantower|Binance|BTC/USDT|1-Min' [FROM=2026-11-01] [TO=2026-11-24]
 *   make coverage SERIES=... HTML=report.html      # the page's timeline as one self-contained file
 *   make coverage RUN_ID=demo-run-1 HTML=run.html  # a strategy run's readiness, same file format
 */
import fs from 'node:fs';
import { createKnex } from '../shared/adapters/postgres';
import { ReadModel } from '../shared/adapters/read-model';
import { standaloneHtml } from '../shared/coverage/export';
import { runReadiness, seriesCoverage } from '../shared/coverage/views';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { loadConfigOrExit } from '../shared/runtime/process';
import { ArgsError, parseArgsOrExit } from '../shared/runtime/args';
import { addBars, parseTimeframe } from '../shared/domain/timeframe';
import { findCalendarGaps } from '../shared/domain/calendar-gaps';
import { loadCalendarBook } from '../shared/adapters/calendar-store';

const USAGE = `Usage: tsx scripts/coverage.ts --series 'Provider|Venue|Symbol|Timeframe' [--from ISO] [--to ISO] [--json] [--html FILE]
       tsx scripts/coverage.ts --run RUN_ID --html FILE

  --series   the series, canonical names (as in market_series), or its numeric id
  --from     start of the range, UTC (default: the series' first bar)
  --to       end of the range, exclusive, UTC (default: after the series' last bar)
  --json     print JSON instead of a table
  --html     also write the timeline (as the read API's page draws it) to FILE, one self-contained
             HTML file that opens offline
  --run      a strategy run instead of a series: its readiness timeline, written with --html`;

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

async function main(): Promise<void> {
  const args = parseArgsOrExit(
    process.argv.slice(2),
    { series: '', from: '', to: '', json: false, html: '', run: '' },
    USAGE,
    (a) => {
      if (!a.series && !a.run) throw new ArgsError('--series (or --run with --html) is required');
      if (a.run && !a.html) throw new ArgsError('--run needs --html FILE');
      for (const k of ['from', 'to'] as const) {
        if (a[k] && Number.isNaN(Date.parse(a[k]))) throw new ArgsError(`--${k} ${JSON.stringify(a[k])} is not a date`);
      }
    },
  );
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-coverage'));
  const knex = createKnex(c.pgWorker, { min: 0, max: 1 });
  try {
    if (args.run) {
      const readiness = await runReadiness(new ReadModel(knex), args.run).catch((err: Error) => {
        process.stderr.write(`${err.message}\n`);
        process.exit(1);
      });
      fs.writeFileSync(args.html, standaloneHtml({ kind: 'run', data: readiness }));
      process.stdout.write(`run ${args.run}: ${readiness.verdict}; timeline written to ${args.html}\n`);
      return;
    }
    const parts = args.series.split('|');
    const series = await knex('market_series')
      .modify((q) => {
        if (/^\d+$/.test(args.series)) q.where('id', Number(args.series));
        else if (parts.length === 4)
          q.where({ provider: parts[0], venue: parts[1], symbol: parts[2], timeframe: parts[3] });
        else q.whereRaw('false');
      })
      .first('id', 'symbol', 'timeframe', 'provider', 'venue', 'start_utc', 'end_utc');
    if (!series) {
      process.stderr.write(
        `no series ${JSON.stringify(args.series)} (use Provider|Venue|Symbol|Timeframe as stored, or an id)\n`,
      );
      process.exit(1);
    }
    const tf = parseTimeframe(series.timeframe as string);
    const calendar = (await loadCalendarBook(knex)).forSeries(series.venue as string, series.symbol as string);
    const fromMs = args.from ? Date.parse(args.from) : ((series.start_utc as Date | null)?.getTime() ?? 0);
    const toMs = args.to ? Date.parse(args.to) : addBars(tf, (series.end_utc as Date | null)?.getTime() ?? 0, 1);

    const times = (
      await knex.raw<{ rows: Array<{ ms: string }> }>(
        `SELECT (extract(epoch FROM ts_utc) * 1000)::bigint AS ms FROM market_bars
          WHERE series_id = ? AND ts_utc >= ? AND ts_utc < ? ORDER BY ts_utc`,
        [series.id, new Date(fromMs), new Date(toMs)],
      )
    ).rows.map((r) => Number(r.ms));
    const covered: Array<{ from: string; to: string; bars: number }> = [];
    let start = -1;
    let prev = -1;
    let count = 0;
    for (const t of times) {
      if (start >= 0 && t !== addBars(tf, prev, 1) && findCalendarGaps(calendar, tf, prev, [t]).length > 0) {
        covered.push({ from: iso(start), to: iso(addBars(tf, prev, 1)), bars: count });
        start = -1;
      }
      if (start < 0) [start, count] = [t, 0];
      prev = t;
      count++;
    }
    if (start >= 0) covered.push({ from: iso(start), to: iso(addBars(tf, prev, 1)), bars: count });

    const gaps = await knex('data_gaps')
      .where('series_id', series.id)
      .andWhere('to_utc', '>', new Date(fromMs))
      .andWhere('from_utc', '<', new Date(toMs))
      .orderBy('from_utc')
      .select(
        'gap_id',
        'from_utc',
        'to_utc',
        'missing_bars',
        'detected_at',
        'remaining_bars',
        'remaining',
        'kind',
        'status',
        'filled_at',
        'filled_by',
        'attempts',
      );
    const offline = await knex('connection_sessions')
      .where({ provider: series.provider, venue: series.venue, status: 'DISCONNECTED' })
      .andWhere('from_utc', '<', new Date(toMs))
      .andWhere((q) => q.whereNull('to_utc').orWhere('to_utc', '>', new Date(fromMs)))
      .orderBy('from_utc')
      .select('from_utc', 'to_utc');

    const report = {
      series: `${series.provider}|${series.venue}|${series.symbol}|${series.timeframe}`,
      range: { from: iso(fromMs), to: iso(toMs) },
      calendar: calendar.name,
      bars: times.length,
      covered,
      // As detected (from_utc, to_utc, missing_bars, detected_at: never change), and what is still
      // missing of it now (remaining_bars, remaining pieces; filled_at and filled_by once FILLED).
      gaps: gaps.map((g) => ({
        ...g,
        from_utc: iso(g.from_utc.getTime()),
        to_utc: iso(g.to_utc.getTime()),
        detected_at: iso(g.detected_at.getTime()),
        filled_at: g.filled_at ? iso(g.filled_at.getTime()) : null,
        remaining: (g.remaining as Array<{ from_ms: number; to_ms: number; missing_bars: number }>).map((p) => ({
          from: iso(Number(p.from_ms)),
          to: iso(Number(p.to_ms)),
          missing_bars: Number(p.missing_bars),
        })),
      })),
      offline: offline.map((o) => ({
        from: iso(o.from_utc.getTime()),
        to: o.to_utc ? iso(o.to_utc.getTime()) : 'ongoing',
      })),
    };
    if (args.html) {
      const lane = await seriesCoverage(new ReadModel(knex), Number(series.id), { fromMs, toMs });
      fs.writeFileSync(args.html, standaloneHtml({ kind: 'series', data: lane }));
    }
    if (args.json) {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return;
    }
    const out = (line: string): void => void process.stdout.write(line + '\n');
    out(
      `${report.series}  [${report.range.from}, ${report.range.to})  ${report.bars} bars  calendar ${report.calendar}`,
    );
    out(`\nCovered (${covered.length}):`);
    for (const k of covered) out(`  [${k.from}, ${k.to})  ${k.bars} bars`);
    out(`\nGaps (${report.gaps.length}):`);
    for (const g of report.gaps) {
      out(
        `  [${g.from_utc}, ${g.to_utc})  ${String(g.missing_bars).padStart(6)} missing at detection (${g.detected_at}), ${g.remaining_bars} still missing  ${g.kind.padEnd(11)} ${g.status}  (${g.gap_id}, ${g.attempts} requests)`,
      );
      if (g.filled_at) out(`      filled ${g.filled_at} by ${g.filled_by ?? '?'} bars`);
      else if (g.remaining_bars !== g.missing_bars)
        for (const p of g.remaining) out(`      still missing [${p.from}, ${p.to})  ${p.missing_bars}`);
    }
    out(`\nExporter offline (${report.offline.length}):`);
    for (const o of report.offline) out(`  [${o.from}, ${o.to})`);
    if (args.html) out(`\nTimeline written to ${args.html} (one self-contained HTML file)`);
  } finally {
    await knex.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`coverage failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
