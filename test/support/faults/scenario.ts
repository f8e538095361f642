/**
 * One fault scenario: its own topics and consumer groups, worker processes, the plan published
 * phase by phase with a fault injected while a phase is consumed, then the final state compared
 * with the plan's expected state (the state of a clean run).
 */
import fs from 'node:fs';
import path from 'node:path';
import { db, TestContext, truncateData } from '../stack';
import { ActualState, collectState, compareState, Verdict, verdictLine } from './compare';
import { Fleet, PlanPublisher, runPlan } from './harness';
import { ExpectedState, expectedState, Phase, planStream, StreamPlan } from './plan';
import type { GapKind } from '../../../shared/domain/gaps';

/** Continuity workers request backfills of OFFLINE gaps; nobody answers, and nothing is retried within a run. */
export const BACKFILL_KINDS: GapKind[] = ['OFFLINE'];
export const WORKER_ENV = {
  BI_SESSION_TIMEOUT_MS: '6000',
  BI_FLUSH_MAX_MESSAGES: '200',
  BI_FLUSH_MAX_WAIT_MS: '200',
  BI_BACKFILL_KINDS: BACKFILL_KINDS.join(','),
  BI_BACKFILL_RETRY_MS: '3600000',
  BI_BACKFILL_TICK_MS: '300',
};

/** The scenarios' stream: 8 series (4 with an exporter outage), 3 runs, three phases. */
export function scenarioPlan(barsPerSeries = 120, seed = 13): { plan: StreamPlan; expected: ExpectedState } {
  const plan = planStream({ seed, seriesPerVenue: 4, barsPerSeries, runs: 3 });
  return { plan, expected: expectedState(plan, { backfillKinds: BACKFILL_KINDS }) };
}

/** Rows in market_bars now (the admin connection). */
export async function storedBars(): Promise<number> {
  const { rows } = await db().raw<{ rows: Array<{ n: number }> }>('SELECT count(*)::int AS n FROM market_bars');
  return rows[0]!.n;
}

/** Bars a phase adds to market_bars. */
export function newBarsOf(expected: ExpectedState): number {
  return [...expected.bars.values()].reduce((a, m) => a + m.size, 0);
}

export class Scenario {
  readonly ctx: TestContext;
  readonly fleet: Fleet;
  readonly publisher: PlanPublisher;

  constructor(env: Record<string, string> = {}) {
    this.ctx = new TestContext({ ...WORKER_ENV, ...env });
    this.fleet = new Fleet(this.ctx.env);
    this.publisher = new PlanPublisher(this.ctx);
  }

  async setup(opts: { ingest?: number; continuity?: number } = {}): Promise<this> {
    await truncateData();
    await this.ctx.setup();
    const starting = [];
    for (let i = 0; i < (opts.ingest ?? 1); i++) starting.push(this.fleet.startAndWait('ingest'));
    for (let i = 0; i < (opts.continuity ?? 1); i++) starting.push(this.fleet.startAndWait('continuity'));
    await Promise.all(starting);
    return this;
  }

  /** Publishes the plan; `during(k)` runs while phase k is published and consumed. */
  async run(
    plan: StreamPlan,
    during?: (index: number, phase: Phase) => Promise<void>,
    opts: { ratePerSec?: number; timeoutMs?: number } = {},
  ): Promise<void> {
    await runPlan(this.ctx, db(), plan, {
      publisher: this.publisher,
      fleet: this.fleet,
      backfillKinds: BACKFILL_KINDS,
      during,
      ...opts,
    });
  }

  /** What the last verdict was computed from. */
  actual: ActualState | undefined;

  async verdict(expected: ExpectedState): Promise<Verdict> {
    this.actual = await collectState(this.ctx, db());
    const v = compareState(expected, this.actual);
    if (!v.ok || process.env.BI_TEST_LOG) {
      process.stderr.write(`${verdictLine(v)}\n  ${[...v.details, ...v.notes].join('\n  ')}\n`);
    }
    return v;
  }

  async close(): Promise<void> {
    const dir = process.env.BI_FAULT_LOGS;
    const procs = [...this.fleet.procs];
    await this.fleet.stopAll();
    // Every worker's whole log, for a scenario that needs a closer look.
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      for (const p of procs) fs.writeFileSync(path.join(dir, `${this.ctx.prefix}${p.name}.log`), p.logs.join('\n'));
    }
    await this.publisher.close();
    await this.ctx.close();
    // Fewer partitions for a broker restart in a later scenario to recover.
    const admin = this.ctx.kafka.admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteTopics({ topics: Object.values(this.ctx.topics), timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}
