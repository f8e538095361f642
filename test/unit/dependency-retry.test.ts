import { expect } from 'chai';
import {
  backoffDelays,
  DependencyHealth,
  retryDependency,
  RetryAbandoned,
  retryTransient,
} from '../../shared/runtime/dependency-health';
import { EXIT_OUTAGE_BUDGET, FatalError } from '../../shared/runtime/failures';
import { silentLogger } from '../../shared/runtime/log';
import { sleep } from '../../shared/runtime/sleep';

/** A failure the taxonomy calls transient (a refused connection). */
const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

/** A step that fails `times` times with `failure`, then answers 'ok'. */
function failing(times: number, failure: () => Error = refused) {
  const step = {
    calls: 0,
    fn: async (): Promise<string> => (++step.calls <= times ? Promise.reject(failure()) : 'ok'),
  };
  return step;
}

/** A clock the test moves: each wait advances it by the delay, so budgets run out without waiting. */
function fakeClock() {
  const clock = { ms: 0, waits: [] as number[] };
  const wait = async (ms: number): Promise<void> => {
    clock.waits.push(ms);
    clock.ms += ms;
  };
  return { clock, wait, now: () => clock.ms };
}

describe('retrying a failing dependency (shared/runtime/dependency-health.ts)', () => {
  it('backoffDelays doubles the ceiling up to the max, with equal jitter', () => {
    const next = backoffDelays(200, 1_000, () => 1);
    expect([next(), next(), next(), next(), next()]).to.deep.equal([200, 400, 800, 1_000, 1_000]);
    const low = backoffDelays(200, 1_000, () => 0);
    expect([low(), low(), low()]).to.deep.equal([100, 200, 400]);
  });

  it('retryDependency retries transient failures, is not ready meanwhile, and recovers', async () => {
    const { clock, wait, now } = fakeClock();
    const health = new DependencyHealth({ livenessTimeoutMs: 60_000, outageBudgetMs: 60_000, now });
    health.markStarted();
    const step = failing(3);
    const retried: string[] = [];
    const readiness: boolean[] = [];
    const value = await retryDependency('write', step.fn, {
      health,
      initialMs: 100,
      maxMs: 1_000,
      log: silentLogger,
      onRetry: (name) => {
        retried.push(name);
        readiness.push(health.report().ready);
      },
      wait: async (ms) => {
        readiness.push(health.report().ready);
        await wait(ms);
      },
    });
    expect(value).to.equal('ok');
    expect(step.calls).to.equal(4);
    expect(retried).to.deep.equal(['write', 'write', 'write']);
    expect(clock.waits).to.have.length(3);
    // Not ready while the step fails (the first onRetry runs before the failure is recorded).
    expect(readiness.slice(1)).to.deep.equal([false, false, false, false, false]);
    expect(health.report().ready).to.equal(true);
  });

  it('retryDependency throws anything not transient at once, untouched', async () => {
    const health = new DependencyHealth({ livenessTimeoutMs: 60_000, outageBudgetMs: 60_000 });
    const bug = new TypeError('a bug');
    const step = failing(1, () => bug);
    const thrown = await retryDependency('decode', step.fn, {
      health,
      initialMs: 1,
      maxMs: 1,
      log: silentLogger,
    }).catch((err: unknown) => err);
    expect(thrown).to.equal(bug);
    expect(step.calls).to.equal(1);
  });

  it('retryDependency stops with EXIT_OUTAGE_BUDGET once the failure outlasts the outage budget', async () => {
    const { wait, now } = fakeClock();
    const health = new DependencyHealth({ livenessTimeoutMs: 60_000, outageBudgetMs: 10_000, now });
    const step = failing(Infinity);
    const thrown = await retryDependency('commit', step.fn, {
      health,
      initialMs: 1_000,
      maxMs: 4_000,
      log: silentLogger,
      wait,
    }).catch((err: unknown) => err);
    expect(thrown).to.be.instanceOf(FatalError);
    expect((thrown as FatalError).exitCode).to.equal(EXIT_OUTAGE_BUDGET);
    expect((thrown as Error).message).to.contain('past the outage budget');
    expect(now()).to.be.greaterThan(10_000);
  });

  it('retryDependency gives the step up (RetryAbandoned) once the worker is stopping', async () => {
    const health = new DependencyHealth({ livenessTimeoutMs: 60_000, outageBudgetMs: 60_000 });
    let stopping = false;
    const step = failing(Infinity);
    const thrown = await retryDependency('handle', step.fn, {
      health,
      initialMs: 1,
      maxMs: 1,
      log: silentLogger,
      isStopping: () => stopping,
      wait: async () => {
        stopping = true;
      },
    }).catch((err: unknown) => err);
    expect(thrown).to.be.instanceOf(RetryAbandoned);
    expect(step.calls).to.equal(2);
  });

  it('retryTransient gives up with the last failure after its own budget', async () => {
    let calls = 0;
    const started = Date.now();
    const thrown = await retryTransient(
      async () => {
        calls += 1;
        throw refused();
      },
      { isTransient: () => true, budgetMs: 30, initialMs: 5, maxMs: 10 },
    ).catch((err: unknown) => err);
    expect((thrown as Error).message).to.contain('ECONNREFUSED');
    expect(calls).to.be.greaterThan(1);
    expect(Date.now() - started).to.be.at.least(30);
  });

  it('sleep resolves after the time asked for', async () => {
    const started = Date.now();
    await sleep(20);
    expect(Date.now() - started).to.be.at.least(19);
  });
});
