import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registryFetch, SCHEMAS_DIR } from '../../shared/adapters/registry';
import { EXPORTER_HEADER } from '../../shared/contract';
import { BarPublisher } from '../../exporter/publisher';
import { checkSchemas, formatResult, LEGACY_BAR_SCHEMA_FILE } from '../../shared/adapters/schema-compatibility';
import { db, minutesAgo, TestContext, truncateData } from '../support/stack';

/** A Bar v1 value: what exporters already in the field send (no provider, venue or later fields). */
function v1Bar(ts: number, symbol = 'BTCUSDT') {
  return { symbol, timeframe: '1m', ts_utc: ts, open: 100, high: 102, low: 99, close: 101, volume: 5 };
}

describe('schema evolution: Bar v1 and Bar v2 under one subject', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  it('registers v1 first and v2 after it under md.bars.v1-value, BACKWARD compatible', async () => {
    const subject = `${ctx.topics.bars}-value`;
    const base = `/subjects/${encodeURIComponent(subject)}/versions`;
    const list = ((await (await registryFetch(ctx.connections.registry, base)).json()) as number[]).sort(
      (a, b) => a - b,
    );
    expect(list.length).to.equal(2);
    const schemaOf = async (version: number): Promise<{ fields: Array<{ name: string }> }> => {
      const res = (await (await registryFetch(ctx.connections.registry, `${base}/${version}`)).json()) as {
        schema: string;
      };
      return JSON.parse(res.schema) as { fields: Array<{ name: string }> };
    };
    const first = (await schemaOf(list[0]!)).fields.map((f) => f.name);
    const second = (await schemaOf(list[1]!)).fields.map((f) => f.name);
    expect(first).to.not.include('provider');
    expect(first).to.not.include('venue');
    expect(second).to.include.members(['provider', 'venue', 'run_id', 'source', 'history_request_id']);
  });

  it('stores a v1 bar from a mapped exporter under the mapped provider/venue, dead-letters one from an unmapped exporter', async () => {
    const v1Id = await ctx.codec.register(
      ctx.topics.bars,
      fs.readFileSync(path.join(SCHEMAS_DIR, LEGACY_BAR_SCHEMA_FILE), 'utf8'),
    );
    const publisher = await ctx.publisher();
    const t = minutesAgo(30);
    const legacy = async (exporter: string, ts: number) => ({
      key: `||BTCUSDT|1m`,
      value: await ctx.codec.encode(v1Id, v1Bar(ts)),
      headers: { [EXPORTER_HEADER]: exporter },
    });
    await publisher.sendRaw([
      await legacy('legacy-coinbase', t),
      await legacy('legacy-coinbase', t + 60_000),
      await legacy('legacy-unknown', t + 120_000),
    ]);
    // Sanity: the payload really is v1 (the worker decodes with the writer schema).
    expect(BarPublisher.keyOf({ ...v1Bar(t) })).to.equal('||BTCUSDT|1m');

    await ctx.startWorker({ BI_EXPORTER_DEFAULTS: 'legacy-coinbase=Quantower/Coinbase' });
    await ctx.waitForLag0();

    const stored = await db()('market_bars as b')
      .join('market_series as s', 's.id', 'b.series_id')
      .select('s.symbol', 's.timeframe', 's.provider', 's.venue')
      .count<Array<{ symbol: string; timeframe: string; provider: string; venue: string; count: string }>>('* as count')
      .groupBy('s.symbol', 's.timeframe', 's.provider', 's.venue');
    expect(stored).to.deep.equal([
      { symbol: 'BTC/USDT', timeframe: '1-Min', provider: 'Quantower', venue: 'Coinbase', count: '2' },
    ]);

    const dead = await ctx.readAll(ctx.topics.barsDlq, 1);
    expect(dead).to.have.length(1);
    expect(dead[0]!.headers['bi-error-code']).to.equal('UNMAPPED_EXPORTER');
    expect(dead[0]!.headers['bi-error-reason']).to.include('legacy-unknown').and.to.include('BI_EXPORTER_DEFAULTS');
  });

  it('passes the real schemas and fails an incompatible change, naming the field', async () => {
    const real = await checkSchemas({ dir: SCHEMAS_DIR, registryUrl: ctx.connections.registry, topics: ctx.topics });
    expect(real.ok, formatResult(real)).to.equal(true);
    expect(real.checks.filter((c) => c.status === 'compatible')).to.have.length(6);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'schemas-'));
    try {
      for (const f of fs.readdirSync(SCHEMAS_DIR)) fs.copyFileSync(path.join(SCHEMAS_DIR, f), path.join(dir, f));
      const bar = JSON.parse(fs.readFileSync(path.join(dir, 'bar.avsc'), 'utf8')) as { fields: object[] };
      bar.fields.push({ name: 'exchange_fee', type: 'double' });
      fs.writeFileSync(path.join(dir, 'bar.avsc'), JSON.stringify(bar));

      const result = await checkSchemas({ dir, registryUrl: ctx.connections.registry, topics: ctx.topics });
      expect(result.ok).to.equal(false);
      const failed = result.checks.filter((c) => c.status === 'incompatible');
      expect(failed.map((c) => c.file)).to.deep.equal(['bar.avsc']);
      expect(failed[0]!.problems.join(' ')).to.include('exchange_fee');
      expect(formatResult(result)).to.include('FAIL bar.avsc').and.to.include('exchange_fee');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
