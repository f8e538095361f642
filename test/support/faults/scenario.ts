/**
 * One fault scenario: its own topics and consumer groups, worker processes, the plan published
 * phase by phase with a fault injected while a phase is consumed, then the final state compared
 * with the plan's expected state (the state of a clean run).
 */
import { db, TestContext, truncateData } from '../stack';
import { collectState, compareState, Verdict, verdictLine } from './compare';
import { Fleet, PlanPublisher, runPlan } from './harness';
import { ExpectedState, expectedState, Phase, planStream, StreamPlan } from './plan';
import type { GapKind } from '../../../shared/domain/gaps';

/** Continuity workers request backfills of OFFLINE gaps; nobody answers, and nothing is retried within a run. */
export const BACKFILL_KINDS: GapKind[] = ['OFFLINE'];
export const WORKER_ENV = {
  BI_SESSION_TIMEOUT_MS: '6000',
  BI_FLUSH_MAX_BARS: '200',
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

  async verdict(expected: ExpectedState): Promise<Verdict> {
    const v = compareState(expected, await collectState(this.ctx, db()));
    if (!v.ok || process.env.BI_TEST_LOG) {
      process.stderr.write(`${verdictLine(v)}\n  ${[...v.details, ...v.notes].join('\n  ')}\n`);
    }
    return v;
  }

  async close(): Promise<void> {
    await this.fleet.stopAll();
    await this.publisher.close();
    await this.ctx.close();
  }
}
