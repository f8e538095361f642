import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import crypto from 'node:crypto';
import { db, minuteBar, minutesAgo, sleep, TestContext, truncateData } from '../support/stack';

const ROOT = path.resolve(__dirname, '../..');

/** The reference data command, run as an operator runs it. */
function venues(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'scripts/venues.ts'), ...args],
      { cwd: ROOT, env },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

describe('reference data: the venues command changes what running workers accept, without a restart', function () {
  this.timeout(180_000);
  let ctx: TestContext;
  const venue = `Venue${crypto.randomBytes(3).toString('hex')}`;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => {
    await ctx.close();
    await truncateData();
    await db()('venues').where({ name: venue }).delete();
  });

  /**
   * Sends a fresh bar (a new open time each time) every half second until one is stored under
   * `canonical`; returns how long that took. Bars sent before the workers knew the change are
   * dead-lettered or stored under another symbol, as documented.
   */
  let sent = 0;
  async function acceptedWithin(raw: string, canonical: string, timeoutMs: number): Promise<number> {
    const t = minutesAgo(600);
    const started = Date.now();
    const times: Date[] = [];
    while (Date.now() - started < timeoutMs) {
      const bar = minuteBar(t, sent++, { venue, symbol: raw });
      times.push(new Date(bar.ts_utc));
      await ctx.publish([bar]);
      await sleep(500);
      const stored = await db()('market_bars as b')
        .join('market_series as s', 's.id', 'b.series_id')
        .where({ 's.venue': venue, 's.symbol': canonical })
        .whereIn('b.ts_utc', times)
        .count<Array<{ n: string }>>({ n: '*' });
      if (Number(stored[0]!.n) > 0) return Date.now() - started;
    }
    throw new Error(`no ${raw} bar stored as ${venue} ${canonical} within ${timeoutMs} ms`);
  }

  it('a venue, an alias and a quote currency added with the command are used by a running worker within seconds', async () => {
    await ctx.startWorker();
    const added = await venues(ctx.env, 'add-venue', '--name', venue, '--quotes', 'usd');
    expect(added, added.err).to.include({ code: 0 });
    const took = [await acceptedWithin('BTCUSD', 'BTC/USD', 20_000)];

    // A known venue's rules change: the worker reloads them too (not only for unknown names).
    expect(
      await venues(ctx.env, 'set-alias', '--venue', venue, '--kind', 'ASSET', '--alias', 'XBT', '--canonical', 'BTC'),
    ).to.include({ code: 0 });
    took.push(await acceptedWithin('XBTUSD', 'BTC/USD', 20_000));

    expect(await venues(ctx.env, 'add-quotes', '--venue', venue, '--quotes', 'EUR')).to.include({ code: 0 });
    took.push(await acceptedWithin('ETHEUR', 'ETH/EUR', 20_000));
    if (process.env.BI_TEST_LOG) console.log(`accepted after ${took.join(', ')} ms`);

    const listed = await venues(ctx.env, 'list', '--json');
    const entry = (JSON.parse(listed.out) as { venues: Array<{ name: string; quotes: string[] }> }).venues.find(
      (v) => v.name === venue,
    );
    expect(entry).to.deep.include({ quotes: ['USD', 'EUR'], assetAliases: { XBT: 'BTC' } });
  });

  it('refuses invalid or duplicate entries with a reason, and changes nothing', async () => {
    const before = await db()('reference_data_version').first('version');
    const bad = await venues(ctx.env, 'add-venue', '--name', 'Bad|Name');
    expect(bad.code).to.equal(1);
    expect(bad.err).to.match(/^INVALID_NAME: venue name "Bad\|Name"/);
    const dup = await venues(ctx.env, 'add-venue', '--name', 'binance');
    expect(dup.code).to.equal(1);
    expect(dup.err).to.include('ALREADY_EXISTS: venue Binance is already registered');
    const usage = await venues(ctx.env, 'add-venue');
    expect(usage.code).to.equal(2);
    expect(usage.err).to.include('add-venue needs --name');
    expect((await venues(ctx.env, '--help')).out).to.include('Usage: tsx scripts/venues.ts');
    expect(await db()('reference_data_version').first('version')).to.deep.equal(before);
  });
});
