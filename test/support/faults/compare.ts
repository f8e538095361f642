/**
 * What the real services hold after a run, read back as outcomes (rows, events, dead letters,
 * Redis claims), and its difference from the expected state of the plan (plan.ts). One verdict
 * for every fault scenario and for `make chaos`.
 */
import Redis from 'ioredis';
import type { Knex } from 'knex';
import type { TestContext } from '../stack';
import { ExpectedState, Poison, seriesKeyOf } from './plan';

export interface ActualState {
  bars: Map<
    string,
    Map<number, { open: number; high: number; low: number; close: number; volume: number; revision: number }>
  >;
  subscriptions: Set<string>;
  gaps: Array<{
    gapId: string;
    series: string;
    idFrom: number;
    fromMs: number;
    toMs: number;
    missingBars: number;
    remainingBars: number;
    kind: string;
    status: string;
    unpublished: boolean;
    /** Changes the gap has had (each one DataGap event, numbered 1..eventVersion). */
    eventVersion: number;
  }>;
  /** Latest DataGap event per gap_id, as `from to missing kind status`. */
  latestEvents: Map<string, string>;
  /** The version of every DataGap event of each gap_id, in the order delivered (at least once: a
   * crash between send and mark repeats one). */
  eventVersions: Map<string, number[]>;
  deadLetters: Array<{ code: string; identity: string; source: string }>;
  claimsLeft: number;
}

export const CATEGORIES = [
  'bars lost',
  'bars duplicated',
  'bars stale',
  'subscriptions missing',
  'subscriptions extra',
  'gaps missed',
  'gaps false',
  'gaps duplicated',
  'gaps wrong range',
  'gaps wrong kind',
  'gaps wrong status',
  'events differing',
  'dead letters missing',
  'dead letters extra',
  'claims left',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Verdict {
  counts: Record<Category, number>;
  /** The first differences, for a person to read. */
  details: string[];
  /** Not a difference (dead letters and DataGap events are at least once), but worth printing. */
  notes: string[];
  ok: boolean;
}

/** One line: every category with its count, then OK or FAILED. */
export function verdictLine(v: Verdict): string {
  return `verdict: ${CATEGORIES.map((c) => `${c} ${v.counts[c]}`).join(', ')} -> ${v.ok ? 'OK' : 'FAILED'}`;
}

const ms = (d: Date | string | number): number => (d instanceof Date ? d.getTime() : new Date(d).getTime());

function identityOfBar(
  code: string,
  b: { venue?: string | null; symbol: string; ts_utc: number; high: number },
): string {
  return `${code} ${b.venue ?? ''} ${b.symbol} ${b.ts_utc} ${b.high}`;
}

export function identityOfPoison(p: Poison): string {
  return 'raw' in p ? `${p.code} raw:${p.raw}` : identityOfBar(p.code, p.bar);
}

/** Reads the final state. Call once the run is quiet (lag 0, outbox drained). */
export async function collectState(
  ctx: TestContext,
  knex: Knex,
  redisNamespace = `${ctx.prefix}bi:`,
): Promise<ActualState> {
  const bars: ActualState['bars'] = new Map();
  const rows = await knex.raw<{
    rows: Array<{
      venue: string;
      symbol: string;
      ts: Date;
      open: number;
      high: number;
      low: number;
      close: number;
      volume: number;
      revision: number;
    }>;
  }>(
    `SELECT s.venue, s.symbol, b.ts_utc AS ts, b.open, b.high, b.low, b.close, b.volume, b.revision
       FROM market_bars b JOIN market_series s ON s.id = b.series_id`,
  );
  for (const r of rows.rows) {
    const key = seriesKeyOf(r);
    const m = bars.get(key) ?? new Map();
    bars.set(key, m);
    m.set(ms(r.ts), {
      open: Number(r.open),
      high: Number(r.high),
      low: Number(r.low),
      close: Number(r.close),
      volume: Number(r.volume),
      revision: Number(r.revision),
    });
  }
  const subs = await knex.raw<{ rows: Array<{ run_id: string; venue: string; symbol: string }> }>(
    `SELECT r.run_id, s.venue, s.symbol FROM run_subscriptions r JOIN market_series s ON s.id = r.series_id`,
  );
  const subscriptions = new Set(subs.rows.map((r) => `${r.run_id} ${seriesKeyOf(r)}`));

  const g = await knex.raw<{
    rows: Array<{
      gap_id: string;
      venue: string;
      symbol: string;
      from_utc: Date;
      to_utc: Date;
      missing_bars: number;
      remaining_bars: number;
      kind: string;
      status: string;
      unpublished: boolean;
      event_version: number;
    }>;
  }>(
    `SELECT g.gap_id, s.venue, s.symbol, g.from_utc, g.to_utc, g.missing_bars, g.remaining_bars, g.kind, g.status,
            g.event_version > g.published_version AS unpublished, g.event_version
       FROM data_gaps g JOIN market_series s ON s.id = g.series_id`,
  );
  const gaps = g.rows.map((r) => ({
    gapId: r.gap_id,
    series: seriesKeyOf(r),
    idFrom: Number(/-(\d+)$/.exec(r.gap_id)?.[1] ?? NaN),
    fromMs: ms(r.from_utc),
    toMs: ms(r.to_utc),
    missingBars: Number(r.missing_bars),
    remainingBars: Number(r.remaining_bars),
    kind: r.kind,
    status: r.status,
    unpublished: r.unpublished,
    eventVersion: Number(r.event_version),
  }));

  const latestEvents = new Map<string, string>();
  const eventVersions = new Map<string, number[]>();
  const total = await ctx.messagesOn(ctx.topics.gaps);
  if (total > 0) {
    for (const m of await ctx.readAll(ctx.topics.gaps, total, 60_000)) {
      const e = (await ctx.codec.decode(m.value!)) as Record<string, unknown>;
      const id = String(e.gap_id);
      const text = `${e.from_utc} ${e.to_utc} ${e.missing_bars} ${e.kind} ${e.status}`;
      latestEvents.set(id, text);
      eventVersions.set(id, [...(eventVersions.get(id) ?? []), Number(e.version)]);
    }
  }

  const deadLetters: ActualState['deadLetters'] = [];
  const dlqTotal = await ctx.messagesOn(ctx.topics.barsDlq);
  if (dlqTotal > 0) {
    for (const d of await ctx.readAll(ctx.topics.barsDlq, dlqTotal, 60_000)) {
      const code = d.headers['bi-error-code'] ?? '?';
      let identity = `${code} raw:${d.value?.toString('base64') ?? ''}`;
      try {
        const bar = (await ctx.codec.decode(d.value!)) as {
          venue: string | null;
          symbol: string;
          ts_utc: number;
          high: number;
        };
        identity = identityOfBar(code, bar);
      } catch {
        // Not Avro: the raw bytes are its identity.
      }
      deadLetters.push({
        code,
        identity,
        source: `${d.headers['bi-source-partition']}/${d.headers['bi-source-offset']}`,
      });
    }
  }

  const redis = new Redis({ ...ctx.connections.redis, lazyConnect: true, maxRetriesPerRequest: 5 });
  let claimsLeft = 0;
  await redis.connect();
  try {
    for (const k of await redis.keys(`${redisNamespace}claims:*`)) claimsLeft += await redis.hlen(k);
  } finally {
    redis.disconnect();
  }
  return { bars, subscriptions, gaps, latestEvents, eventVersions, deadLetters, claimsLeft };
}

/** Every difference between what a clean run must leave and what is there. */
export function compareState(expected: ExpectedState, actual: ActualState): Verdict {
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const details: string[] = [];
  const notes: string[] = [];
  const diff = (c: Category, what: string): void => {
    counts[c] += 1;
    if (details.length < 40) details.push(`${c}: ${what}`);
  };

  for (const [key, want] of expected.bars) {
    const got = actual.bars.get(key);
    for (const [ts, w] of want) {
      const a = got?.get(ts);
      if (!a) diff('bars lost', `${key} ${new Date(ts).toISOString()}`);
      else if (
        a.open !== w.open ||
        a.high !== w.high ||
        a.low !== w.low ||
        a.close !== w.close ||
        a.volume !== w.volume ||
        a.revision !== w.revision
      )
        diff(
          'bars stale',
          `${key} ${new Date(ts).toISOString()}: ${JSON.stringify(a)} instead of ${JSON.stringify(w)}`,
        );
    }
  }
  for (const [key, got] of actual.bars)
    for (const ts of got.keys())
      if (!expected.bars.get(key)?.has(ts))
        diff('bars duplicated', `${key} ${new Date(ts).toISOString()} is not in the plan`);

  for (const s of expected.subscriptions) if (!actual.subscriptions.has(s)) diff('subscriptions missing', s);
  for (const s of actual.subscriptions) if (!expected.subscriptions.has(s)) diff('subscriptions extra', s);

  const gapKey = (g: { series: string; idFrom: number }): string => `${g.series} ${new Date(g.idFrom).toISOString()}`;
  const actualGaps = new Map(actual.gaps.map((g) => [gapKey(g), g]));
  const expectedGaps = new Map(expected.gaps.map((g) => [gapKey(g), g]));
  for (const [k, w] of expectedGaps) {
    const a = actualGaps.get(k);
    if (!a) {
      diff('gaps missed', `${k} [${new Date(w.fromMs).toISOString()}, ${new Date(w.toMs).toISOString()}) ${w.status}`);
      continue;
    }
    if (a.fromMs !== w.fromMs || a.toMs !== w.toMs || a.missingBars !== w.missingBars)
      diff(
        'gaps wrong range',
        `${k}: ${a.fromMs}-${a.toMs}/${a.missingBars} instead of ${w.fromMs}-${w.toMs}/${w.missingBars}`,
      );
    if (a.remainingBars !== w.remainingBars)
      diff('gaps wrong range', `${k}: ${a.remainingBars} bars still missing instead of ${w.remainingBars}`);
    if (a.kind !== w.kind) diff('gaps wrong kind', `${k}: ${a.kind} instead of ${w.kind}`);
    if (a.status !== w.status) diff('gaps wrong status', `${k}: ${a.status} instead of ${w.status}`);
  }
  for (const [k, a] of actualGaps) if (!expectedGaps.has(k)) diff('gaps false', `${k} ${a.gapId} ${a.status}`);
  // Two rows covering the same bar of a series: one hole reported twice.
  const bySeries = new Map<string, ActualState['gaps']>();
  for (const g of actual.gaps) bySeries.set(g.series, [...(bySeries.get(g.series) ?? []), g]);
  for (const list of bySeries.values()) {
    const open = list.filter((g) => g.status !== 'FILLED').sort((a, b) => a.fromMs - b.fromMs);
    for (let i = 1; i < open.length; i++)
      if (open[i]!.fromMs < open[i - 1]!.toMs)
        diff('gaps duplicated', `${open[i - 1]!.gapId} and ${open[i]!.gapId} overlap`);
  }

  for (const g of actual.gaps) {
    const want = `${g.fromMs} ${g.toMs} ${g.missingBars} ${g.kind} ${g.status}`;
    const got = actual.latestEvents.get(g.gapId);
    if (g.unpublished || got !== want)
      diff(
        'events differing',
        `${g.gapId}: latest event ${got ?? 'none'}, row ${want}${g.unpublished ? ' (unpublished)' : ''}`,
      );
  }
  for (const id of actual.latestEvents.keys())
    if (!actual.gaps.some((g) => g.gapId === id)) diff('events differing', `${id}: an event for no gap row`);
  const repeats = [...actual.eventVersions.values()].reduce((a, v) => a + v.length, 0) - actual.eventVersions.size;
  if (repeats > 0)
    notes.push(
      `${actual.eventVersions.size} gaps, ${repeats} DataGap events beyond one per gap (changes and at-least-once repeats)`,
    );

  // Dead letters are at least once: the same source offset twice is a redelivery, not an extra.
  const distinct = new Map(actual.deadLetters.map((d) => [d.source, d]));
  if (distinct.size < actual.deadLetters.length)
    notes.push(
      `${actual.deadLetters.length - distinct.size} dead letters repeated for the same source offset (at least once)`,
    );
  // By identity: an exporter that re-sends a poison message after a failed send dead-letters it twice.
  const want = new Set(expected.deadLetters.map(identityOfPoison));
  const got = new Set([...distinct.values()].map((d) => d.identity));
  for (const w of want) if (!got.has(w)) diff('dead letters missing', w.slice(0, 120));
  for (const g of got) if (!want.has(g)) diff('dead letters extra', g.slice(0, 120));
  if (got.size < distinct.size)
    notes.push(`${distinct.size - got.size} poison messages dead-lettered from two source offsets (re-sent)`);

  if (actual.claimsLeft > 0) diff('claims left', `${actual.claimsLeft} claims journaled and never released`);
  const ok = CATEGORIES.every((c) => counts[c] === 0);
  return { counts, details, notes, ok };
}
