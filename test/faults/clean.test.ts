import { expect } from 'chai';
import { scenarioPlan, Scenario } from '../support/faults/scenario';

describe('faults: the expected state of the plan is what a clean run leaves', function () {
  this.timeout(300_000);
  const { plan, expected } = scenarioPlan();
  let s: Scenario;
  afterEach(async () => s.close());

  it('2 ingest workers and a continuity worker, no fault: the verdict is all zero', async () => {
    s = await new Scenario().setup({ ingest: 2, continuity: 1 });
    await s.run(plan);
    const v = await s.verdict(expected);
    expect(v.details).to.deep.equal([]);
    expect(v.ok).to.equal(true);
    // The plan exercises what it claims to.
    expect(expected.gaps.some((g) => g.kind === 'OFFLINE' && g.status === 'BACKFILL_REQUESTED')).to.equal(true);
    expect(expected.gaps.some((g) => g.kind === 'UNKNOWN')).to.equal(true);
    expect(expected.gaps.some((g) => g.kind === 'NO_ACTIVITY')).to.equal(true);
    expect(expected.gaps.some((g) => g.status === 'FILLED')).to.equal(true);
    expect([...expected.bars.values()].some((m) => [...m.values()].some((b) => b.revision === 2))).to.equal(true);
    expect(expected.deadLetters).to.have.length(3);
  });
});
