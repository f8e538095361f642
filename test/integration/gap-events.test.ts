import { expect } from 'chai';
import { BackfillStore } from '../../shared/adapters/backfill-store';
import { GapOutbox, kafkaGapSink } from '../../shared/adapters/gap-events';
import { GapStore } from '../../shared/adapters/gap-store';
import { readSchema, SCHEMA_FILES } from '../../shared/adapters/registry';
import { db, minutesAgo, sleep, TestContext, truncateData } from '../support/stack';

const M = 60_000;

/**
 * The outbox used to publish only a gap row's latest state: a gap whose backfill was requested (or
 * settled) before the outbox got to it never had its OPEN event published. These tests force that
 * race: the changes are committed while no outbox runs, or while several run at once.
 */
describe('gap events: every change of a gap is an event, OPEN first, in order', function () {
  this.timeout(120_000);
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    ctx = await new TestContext().setup();
  });
  afterEach(async () => ctx.close());

  async function seriesId(symbol: string): Promise<number> {
    const [row] = await db()('market_series')
      .insert({ symbol, timeframe: '1-Min', provider: 'Quantower', venue: 'Binance' })
      .returning<Array<{ id: string }>>('id');
    return Number(row!.id);
  }

  async function outbox(): Promise<GapOutbox> {
    const producer = await ctx.sharedProducer();
    const schemaId = await ctx.codec.register(ctx.topics.gaps, readSchema(SCHEMA_FILES.gaps));
    return new GapOutbox(db(), new GapStore(db()), kafkaGapSink(producer, ctx.codec, schemaId, ctx.topics.gaps), 0);
  }

  async function events(): Promise<Array<{ gap_id: string; version: number; status: string }>> {
    const n = await ctx.messagesOn(ctx.topics.gaps);
    const all = await ctx.readAll(ctx.topics.gaps, n, 30_000);
    return Promise.all(all.map(async (m) => (await ctx.codec.decode(m.value!)) as never));
  }

  it('a gap requested and settled before the outbox ran publishes OPEN, BACKFILL_REQUESTED, NO_DATA', async () => {
    const store = new GapStore(db());
    const backfill = new BackfillStore();
    const id = await seriesId('BTC/USDT');
    const t = minutesAgo(60);
    const [gapId] = await db().transaction((trx) =>
      store.insertGaps([{ seriesId: id, fromMs: t, toMs: t + 5 * M, missingBars: 5 }], trx),
    );
    await db().transaction((trx) => backfill.markRequested(trx, gapId!, `${gapId}-r1`, 1, 60_000));
    await db().transaction((trx) => backfill.markNoData(trx, [gapId!]));

    expect(await (await outbox()).publishDue()).to.equal(1);
    const got = await events();
    expect(got.map((e) => [e.gap_id, e.version, e.status])).to.deep.equal([
      [gapId, 1, 'OPEN'],
      [gapId, 2, 'BACKFILL_REQUESTED'],
      [gapId, 3, 'NO_DATA'],
    ]);
    const row = await db()('data_gaps').where({ gap_id: gapId }).first('event_version', 'published_version');
    expect(row).to.deep.equal({ event_version: 3, published_version: 3 });
  });

  it('changes committed while three outboxes publish concurrently: each gap’s events start with OPEN and never go back', async () => {
    const store = new GapStore(db());
    const backfill = new BackfillStore();
    const ids = await Promise.all(['BTC/USDT', 'ETH/USDT', 'SOL/USDT'].map(seriesId));
    const t = minutesAgo(600);
    const boxes = await Promise.all([outbox(), outbox(), outbox()]);
    let publishing = true;
    const publishers = boxes.map(async (box) => {
      while (publishing) {
        await box.publishDue();
        await sleep(2);
      }
    });
    const gapIds: string[] = [];
    for (let i = 0; i < 30; i++) {
      const seriesIdOf = ids[i % ids.length]!;
      const [gapId] = await db().transaction((trx) =>
        store.insertGaps(
          [{ seriesId: seriesIdOf, fromMs: t + i * 10 * M, toMs: t + (i * 10 + 3) * M, missingBars: 3 }],
          trx,
        ),
      );
      gapIds.push(gapId!);
      await db().transaction((trx) => backfill.markRequested(trx, gapId!, `${gapId}-r1`, 1, 60_000));
      if (i % 2 === 0) await db().transaction((trx) => backfill.markNoData(trx, [gapId!]));
      else await db().transaction((trx) => backfill.markUnfillable(trx, gapId!));
    }
    publishing = false;
    await Promise.all(publishers);
    await boxes[0]!.publishDue();

    const byGap = new Map<string, Array<{ version: number; status: string }>>();
    for (const e of await events()) byGap.set(e.gap_id, [...(byGap.get(e.gap_id) ?? []), e]);
    expect([...byGap.keys()].sort()).to.deep.equal([...gapIds].sort());
    for (const [i, gapId] of gapIds.entries()) {
      // At least once: a version may repeat, never go back, and OPEN always comes first.
      const seq = byGap.get(gapId)!.filter((e, j, all) => j === 0 || e.version !== all[j - 1]!.version);
      expect(seq.map((e) => [e.version, e.status])).to.deep.equal([
        [1, 'OPEN'],
        [2, 'BACKFILL_REQUESTED'],
        [3, i % 2 === 0 ? 'NO_DATA' : 'UNFILLABLE'],
      ]);
    }
  });
});
