/**
 * The reference exporter: what the C# plugin does, in TypeScript, for demos, tests and benchmarks.
 * Publishes the demo universe (one ticker at several venues, spelled as each venue spells it) for
 * several strategy runs, so the workers have duplicates, normalization and venue separation to do.
 */
import { Partitioners } from 'kafkajs';
import { createKafka } from '../shared/adapters/kafka';
import { RegistryCodec } from '../shared/adapters/registry';
import { EnvReader } from '../shared/runtime/config';
import { readConnections } from '../shared/runtime/connections';
import { createLogger } from '../shared/runtime/log';
import { parseArgsOrExit } from '../shared/runtime/args';
import { loadConfigOrExit } from '../shared/runtime/process';
import { alignDown, parseTimeframe } from '../shared/domain/timeframe';
import type { WireBar } from '../shared/domain/bar';
import { barAt, DEMO_SERIES } from './generate';
import { readCalendarFiles } from '../shared/adapters/calendar-store';
import { CalendarBook } from '../shared/domain/calendar-book';
import { expectsBar } from '../shared/domain/calendar-gaps';
import { BarPublisher } from './publisher';
import { storyPlan } from './story';

const USAGE = `bar-ingest reference exporter

Usage: tsx exporter/main.ts [--bars N] [--runs N] [--exporter-id ID] [--bad] [--story [--now MS]]

  --bars N          bars per series (default 120), ending at the current bar
  --runs N          strategy runs sending the same bars (default 3): duplicates on purpose
  --exporter-id ID  value of the bi-exporter-id header (default reference-exporter)
  --bad             also send one bad message of each kind, to show the dead-letter topic
  --story           withhold the bars of the demo's story of gaps (exporter/story.ts) and add its
                    two extra runs; its connection events and history answers are sent by the demo
  --now MS          the time the plan ends at (default: now), so the demo and the exporter agree

Connections come from the environment (see workers/ingest/main.ts --help).`;

export interface ExportPlan {
  bars: WireBar[];
  distinct: number;
}

/**
 * Every demo series, the last `barsPerSeries` bar intervals ending now, sent once per run. Like a
 * real feed, a venue sends nothing while its trading calendar (data/calendars) says it is closed,
 * so the CME series has the nights, weekends and holidays a real one has.
 */
export function demoPlan(barsPerSeries: number, runs: number, nowMs: number): ExportPlan {
  const files = readCalendarFiles();
  const calendars = new CalendarBook(
    files,
    files.flatMap((f) =>
      f.venues.map((v) => ({ venue: v.venue, symbolPattern: v.symbolPattern ?? null, calendar: f.name })),
    ),
  );
  const bars: WireBar[] = [];
  let distinct = 0;
  DEMO_SERIES.forEach((series, s) => {
    const tf = parseTimeframe(series.timeframe);
    const cal = calendars.forSeries(series.venue, series.symbol);
    const last = alignDown(tf, nowMs) - series.stepMs;
    const start = last - (barsPerSeries - 1) * series.stepMs;
    const open = Array.from({ length: barsPerSeries }, (_, i) => i).filter((i) =>
      expectsBar(cal, tf, start + i * series.stepMs),
    );
    distinct += open.length;
    for (let run = 1; run <= runs; run++) {
      for (const i of open) bars.push({ ...barAt(series, s, start, i), run_id: `demo-run-${run}` });
    }
  });
  return { bars, distinct };
}

/** One message per kind of bad input the workers must dead-letter. */
export function badBars(nowMs: number): Array<{ why: string; bar: WireBar }> {
  const good = { ...barAt(DEMO_SERIES[0]!, 0, alignDown({ count: 1, unit: 'Min' }, nowMs) - 60_000, 0) };
  return [
    { why: 'unknown venue', bar: { ...good, venue: 'NoSuchExchange' } },
    { why: 'NaN price', bar: { ...good, close: Number.NaN } },
    { why: 'high below low', bar: { ...good, high: good.low - 1 } },
    { why: 'misaligned timestamp', bar: { ...good, ts_utc: good.ts_utc + 17_000 } },
    { why: 'future timestamp', bar: { ...good, ts_utc: good.ts_utc + 3_600_000 } },
    { why: 'oversized symbol', bar: { ...good, symbol: 'X'.repeat(500) } },
  ];
}

async function main(): Promise<void> {
  const args = parseArgsOrExit(
    process.argv.slice(2),
    { bars: 120, runs: 3, exporterId: 'reference-exporter', bad: false, story: false, now: 0 },
    USAGE,
  );
  const c = loadConfigOrExit((env: EnvReader) => readConnections(env, 'bar-ingest-reference-exporter'));
  const log = createLogger({ tool: 'reference-exporter' });
  const kafka = createKafka(c.kafka, log);
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const publisher = new BarPublisher(producer, new RegistryCodec(c.registry), c.topics.bars, args.exporterId);
  const now = args.now > 0 ? args.now : Date.now();
  const plan = args.story ? storyPlan(args.bars, args.runs, now) : demoPlan(args.bars, args.runs, now);
  await publisher.publish(plan.bars);
  let bad = 0;
  if (args.bad) {
    const messages = await Promise.all(badBars(now).map(({ bar }) => publisher.encode(bar)));
    messages.push({ key: 'garbage', value: Buffer.from('not avro at all'), headers: {} });
    await publisher.sendRaw(messages);
    bad = messages.length;
  }
  await producer.disconnect();
  process.stdout.write(
    JSON.stringify({
      published: plan.bars.length + bad,
      distinct_bars: plan.distinct,
      runs: args.runs,
      series: DEMO_SERIES.length,
      bad,
    }) + '\n',
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`exporter failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
