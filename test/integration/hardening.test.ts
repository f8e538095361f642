import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { Message } from 'kafkajs';
import { freePort } from '../support/worker-process';
import type { WireBar } from '../../shared/domain/bar';
import { readSchema, SCHEMA_FILES } from '../../shared/adapters/registry';
import { HistoryResponder } from '../../exporter/history';
import { silentLogger } from '../../shared/runtime/log';
import type { FatalError } from '../../shared/runtime/failures';
import {
  ChildWorker,
  closeDb,
  countRows,
  db,
  minuteBar,
  minutesAgo,
  sleep,
  TestContext,
  truncateData,
  waitFor,
} from '../support/stack';

const STACK = path.resolve(__dirname, '../../scripts/stack.sh');
const M = 60_000;
/** A close price no real test bar has: a CHECK constraint makes PostgreSQL refuse it. */
const REFUSED_CLOSE = 666.25;

async function refuseClose(): Promise<void> {
  await db().raw(`ALTER TABLE market_bars ADD CONSTRAINT hardening_test_refuses CHECK (close <> ${REFUSED_CLOSE})`);
}
async function acceptAllCloses(): Promise<void> {
  await db().raw('ALTER TABLE market_bars DROP CONSTRAINT IF EXISTS hardening_test_refuses');
}

function probe(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 2_000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

describe('hardening: no message stops the fleet, every failure is classified', function () {
  this.timeout(420_000);
  let ctx: TestContext;
  beforeEach(async () => {
    await truncateData();
    await acceptAllCloses();
    ctx = await new TestContext({ BI_SESSION_TIMEOUT_MS: '6000' }).setup();
  });
  afterEach(async () => {
    await ctx.close();
    await acceptAllCloses();
  });

  it('dead-letters each poison published between good bars, stores the good ones, and commits past it', async () => {
    await refuseClose();
    const t = minutesAgo(120);
    const publisher = await ctx.publisher();
    const good = (i: number): Promise<Message> => publisher.encode(minuteBar(t, i));
    const statusSchema = await ctx.codec.register(
      ctx.topics.connectionStatus,
      readSchema(SCHEMA_FILES.connectionStatus),
    );
    const crossedTopics: Message = {
      key: 'Quantower|Binance',
      value: await ctx.codec.encode(statusSchema, {
        provider: 'Quantower',
        venue: 'Binance',
        status: 'CONNECTED',
        ts_utc: t,
        reason: null,
      }),
    };
    const skewed = { ...(await good(5)), timestamp: String(Date.now() + 3 * 365 * 24 * 3600 * 1000) };
    const poison: Array<[string, Message]> = [
      ['WRONG_SCHEMA', crossedTopics],
      ['CONTROL_CHARACTER', await publisher.encode(minuteBar(t, 3, { run_id: 'run\u0000one' }))],
      ['CONTROL_CHARACTER', await publisher.encode(minuteBar(t, 3, { symbol: 'BTC\u0007USDT' }))],
      ['CLOCK_SKEW', skewed],
      ['INTERNAL_ERROR', await publisher.encode(minuteBar(t, 3, { venue: 'BuggyVenue' }))],
      // At a time no good bar has: within one flush, a later copy of the same bar would replace it.
      ['DB_REJECTED', await publisher.encode(minuteBar(t, 50, { close: REFUSED_CLOSE, high: REFUSED_CLOSE }))],
      ['TIMESTAMP_TOO_OLD', await publisher.encode(minuteBar(0, 0))],
      ['INVALID_SOURCE', await publisher.encode(minuteBar(t, 3, { source: 'HISTORY', history_request_id: null }))],
      ['INVALID_SOURCE', await publisher.encode(minuteBar(t, 3, { history_request_id: 'req-1' }))],
      ['MESSAGE_TOO_LARGE', { key: 'x', value: Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), Buffer.alloc(40_000)]) }],
    ];
    const messages: Message[] = [];
    for (let i = 0; i < 10; i++) {
      messages.push(await good(i));
      // Every poison between good bars of the one series, on the one partition.
      if (poison[i]) messages.push({ ...poison[i]![1], key: messages[0]!.key });
    }
    await publisher.sendRaw(messages);

    // An injected validator bug: the catalog throws a TypeError on one venue name.
    const worker = await ctx.startWorker(
      {},
      {
        wrapPorts: (ports) => ({
          ...ports,
          catalog: Object.assign(Object.create(ports.catalog) as typeof ports.catalog, {
            venue: (name: string) => {
              if (name === 'BuggyVenue') throw new TypeError("Cannot read properties of undefined (reading 'quotes')");
              return ports.catalog.venue(name);
            },
          }),
        }),
      },
    );
    await waitFor(async () => (await ctx.lag()) === 0, 30_000, 'the committed offsets to pass the poison');

    const expected = poison.map(([code]) => code).sort();
    const dead = await ctx.readAll(ctx.topics.barsDlq, expected.length);
    expect(dead.map((d) => d.headers['bi-error-code']).sort()).to.deep.equal(expected);
    const reasonOf = (code: string): string =>
      dead.find((d) => d.headers['bi-error-code'] === code)!.headers['bi-error-reason']!;
    expect(reasonOf('WRONG_SCHEMA')).to.contain('connection-status');
    expect(reasonOf('CLOCK_SKEW')).to.match(/ahead of this worker's clock/);
    expect(reasonOf('INTERNAL_ERROR')).to.contain('TypeError');
    expect(reasonOf('DB_REJECTED')).to.contain('SQLSTATE 23514');
    for (const d of dead) expect(d.headers['bi-source-topic']).to.equal(ctx.topics.bars);

    // All ten good bars, and nothing of the poison.
    expect(await countRows('market_bars')).to.equal(10);
    expect(await countRows('market_bars', (q) => q.where('close', REFUSED_CLOSE))).to.equal(0);
    expect(worker.core.metrics.rejectedTotal()).to.equal(expected.length);
    expect(worker.core.metrics.dependencyFailures).to.equal(0);
    expect(worker.core.state).to.equal('idle');
  });

  it('a flush of 1,000 messages with one row PostgreSQL refuses stores the other 999 and dead-letters exactly one', async () => {
    await refuseClose();
    const t = minutesAgo(1_100);
    const bars: WireBar[] = [];
    for (let i = 0; i < 1_000; i++) {
      bars.push(i === 500 ? minuteBar(t, i, { close: REFUSED_CLOSE, high: REFUSED_CLOSE }) : minuteBar(t, i));
    }
    await ctx.publish(bars);
    const worker = await ctx.startWorker({ BI_FLUSH_MAX_MESSAGES: '1000', BI_FLUSH_MAX_WAIT_MS: '10000' });
    await ctx.waitForLag0(60_000);

    expect(worker.core.metrics.largestFlush).to.equal(1_000);
    expect(await countRows('market_bars')).to.equal(999);
    const dead = await ctx.readAll(ctx.topics.barsDlq, 1);
    expect(dead).to.have.length(1);
    expect(dead[0]!.headers['bi-error-code']).to.equal('DB_REJECTED');
    expect(dead[0]!.headers['bi-error-reason']).to.contain('23514').and.contain('hardening_test_refuses');
    expect(worker.core.metrics.rejected.get('DB_REJECTED')).to.equal(1);
    expect(worker.core.metrics.barsInserted).to.equal(999);
  });

  it('the registry stopped for 20 s while connection events and history answers flow: everything settles, nothing is dead-lettered', async () => {
    const t = minutesAgo(60);
    const producer = await ctx.sharedProducer();
    // What the exporter will send while the registry is down, encoded while it is up (an exporter
    // caches its schema ids the same way).
    const statusSchema = await ctx.codec.register(
      ctx.topics.connectionStatus,
      readSchema(SCHEMA_FILES.connectionStatus),
    );
    const status = async (s: 'CONNECTED' | 'DISCONNECTED', ts: number): Promise<Message> => ({
      key: 'Quantower|Binance',
      value: await ctx.codec.encode(statusSchema, {
        provider: 'Quantower',
        venue: 'Binance',
        status: s,
        ts_utc: ts,
        reason: null,
      }),
    });
    const offline = [
      await status('CONNECTED', t - 30 * M),
      await status('DISCONNECTED', t + 2 * M),
      await status('CONNECTED', t + 6 * M),
    ];
    const publisher = await ctx.publisher();
    const before = await Promise.all([0, 1, 2].map((i) => publisher.encode(minuteBar(t, i))));
    const after = await Promise.all([7, 8, 9].map((i) => publisher.encode(minuteBar(t, i))));
    // The exporter's history: the withheld bars 3..6.
    const withheld = [3, 4, 5, 6].map((i) => minuteBar(t, i));
    const responder = new HistoryResponder(
      ctx.kafka,
      producer,
      ctx.codec,
      ctx.topics,
      `${ctx.prefix}exporter`,
      (request) => withheld.filter((b) => b.ts_utc >= request.from_utc && b.ts_utc < request.to_utc),
      silentLogger,
    );
    await responder.start('reference-exporter');
    // Warm the answers' encoder (the exporter knows its schema ids before the outage).
    await ctx.codec.encode(
      await ctx.codec.register(ctx.topics.historyResponses, readSchema(SCHEMA_FILES.historyResponses)),
      { request_id: 'warm-up', bars_sent: 0, status: 'NO_DATA', message: null },
    );
    await publisher.sendRaw(before);
    await ctx.startWorker();
    await ctx.startContinuity({ BI_BACKFILL_KINDS: 'OFFLINE,UNKNOWN', BI_BACKFILL_RETRY_MS: '20000' });
    await ctx.waitForLag0();

    execFileSync(STACK, ['down', 'registry'], { stdio: 'ignore' });
    try {
      await producer.send({ topic: ctx.topics.connectionStatus, acks: -1, messages: offline });
      await publisher.sendRaw(after);
      await sleep(20_000);
    } finally {
      execFileSync(STACK, ['up', 'registry'], { stdio: 'ignore' });
    }

    await waitFor(async () => (await countRows('connection_sessions')) === 3, 60_000, 'three connection periods');
    await waitFor(
      async () => (await db()('data_gaps').select('status')).some((g: { status: string }) => g.status === 'FILLED'),
      90_000,
      'the outage gap to be filled by history',
    );
    const sessions = await db()('connection_sessions').orderBy('from_utc').select('status');
    expect(sessions.map((s: { status: string }) => s.status)).to.deep.equal(['CONNECTED', 'DISCONNECTED', 'CONNECTED']);
    const gaps = await db()('data_gaps').select('status', 'kind');
    expect(gaps).to.deep.equal([{ status: 'FILLED', kind: 'OFFLINE' }]);
    expect(await countRows('market_bars')).to.equal(10);
    expect(await ctx.messagesOn(ctx.topics.barsDlq)).to.equal(0);
    expect(await ctx.messagesOn(ctx.topics.continuityDlq)).to.equal(0);
    expect(ctx.fatalErrors).to.deep.equal([]);
    await responder.stop();
  });

  it('a hung statement and a PostgreSQL outage fail /readyz (and /livez when stuck); both recover; nothing is lost', async () => {
    const port = await freePort();
    const worker = await ctx.startWorker({
      BI_HEALTH_PORT: String(port),
      BI_PG_STATEMENT_TIMEOUT_MS: '1000',
      BI_LIVENESS_TIMEOUT_MS: '4000',
      BI_READY_PROBE_MS: '300',
      BI_OUTAGE_BUDGET_MS: '600000',
    });
    const t = minutesAgo(100);
    await ctx.publish([0, 1, 2].map((i) => minuteBar(t, i)));
    await ctx.waitForLag0();
    expect([await probe(port, '/readyz'), await probe(port, '/livez')]).to.deep.equal([200, 200]);

    // Another session holds a lock on market_bars: every write times out after 1 s.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const lockTaken = new Promise<void>((r) => (locked = r));
    const holder = db().transaction(async (trx) => {
      await trx.raw('LOCK TABLE market_bars IN ACCESS EXCLUSIVE MODE');
      locked();
      await held;
    });
    await lockTaken;
    try {
      await ctx.publish([3, 4, 5].map((i) => minuteBar(t, i)));
      await waitFor(
        async () => (await probe(port, '/readyz')) === 503,
        30_000,
        '/readyz to fail while writes time out',
      );
      expect(worker.core.state).to.equal('retrying');
      await waitFor(async () => (await probe(port, '/livez')) === 503, 30_000, '/livez to fail once stuck');
    } finally {
      release();
      await holder;
    }
    await ctx.waitForLag0();
    await waitFor(async () => (await probe(port, '/readyz')) === 200, 30_000, '/readyz to recover');
    expect(await probe(port, '/livez')).to.equal(200);
    expect(await countRows('market_bars')).to.equal(6);

    // PostgreSQL down while the worker is idle: the background probe notices.
    execFileSync(STACK, ['down', 'postgres'], { stdio: 'ignore' });
    await closeDb();
    try {
      await waitFor(async () => (await probe(port, '/readyz')) === 503, 30_000, '/readyz to fail during the outage');
    } finally {
      execFileSync(STACK, ['up', 'postgres'], { stdio: 'ignore' });
    }
    await waitFor(async () => (await probe(port, '/readyz')) === 200, 60_000, '/readyz to recover after the outage');
    const metrics = await new Promise<string>((resolve) =>
      http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      }),
    );
    expect(metrics).to.match(/bi_dependency_failures_total\{[^}]*dependency="write"[^}]*\} [1-9]/);
    expect(metrics).to.contain('bi_process_resident_memory_bytes');
    expect(metrics).to.match(/bi_flush_stage_seconds_bucket\{[^}]*stage="write"[^}]*\}/);
    expect(await ctx.messagesOn(ctx.topics.barsDlq)).to.equal(0);
  });

  it('a worker past its outage budget exits 3 with its offsets intact; a restarted one resumes with nothing lost', async () => {
    const t = minutesAgo(200);
    const bars = Array.from({ length: 150 }, (_, i) => minuteBar(t, i));
    const env = { ...ctx.env, BI_OUTAGE_BUDGET_MS: '5000', BI_READY_PROBE_MS: '300', BI_FLUSH_MAX_WAIT_MS: '200' };
    const first = new ChildWorker(env);
    await first.started();
    await ctx.publish(bars.slice(0, 50));
    await ctx.waitForLag0();

    execFileSync(STACK, ['down', 'postgres'], { stdio: 'ignore' });
    await closeDb();
    let code: number | null;
    try {
      await ctx.publish(bars.slice(50));
      code = await first.exited(60_000);
    } finally {
      execFileSync(STACK, ['up', 'postgres'], { stdio: 'ignore' });
    }
    expect(code).to.equal(3);
    expect(first.logs.some((l) => l.includes('outage budget'))).to.equal(true);
    // Nothing was committed past what was stored before the outage.
    expect(await ctx.lag()).to.equal(100);

    const second = new ChildWorker(env);
    await second.started();
    await ctx.waitForLag0(60_000);
    expect(await second.kill('SIGTERM')).to.equal(0);
    expect(await countRows('market_bars')).to.equal(150);
    expect(await ctx.messagesOn(ctx.topics.barsDlq)).to.equal(0);
  });

  it('an in-process worker reports a fatal stop to its owner instead of looping', async () => {
    const fatal: FatalError[] = [];
    const worker = await ctx.startWorker(
      { BI_FLUSH_MAX_MESSAGES: '10' },
      {
        onFatal: (err) => fatal.push(err),
        // A deployment error: the worker's role lost its privilege on market_bars (SQLSTATE 42501).
        wrapPorts: (ports) => ({
          ...ports,
          write: () =>
            Promise.reject(Object.assign(new Error('permission denied for table market_bars'), { code: '42501' })),
        }),
      },
    );
    const t = minutesAgo(30);
    await ctx.publish([0, 1, 2].map((i) => minuteBar(t, i)));
    await waitFor(() => fatal.length === 1, 30_000, 'the fatal stop');
    expect(fatal[0]!.exitCode).to.equal(4);
    expect(fatal[0]!.message).to.contain('42501');
    expect(worker.core.state).to.equal('failed');
    expect(await ctx.lag()).to.equal(3);
    expect(await ctx.messagesOn(ctx.topics.barsDlq)).to.equal(0);
  });
});
