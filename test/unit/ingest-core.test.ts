/**
 * The flush pipeline of the ingest worker with its ports as plain functions: how each class of
 * failure moves it between states and what reaches the DLQ, the database and the offsets. The
 * services themselves are exercised by the integration tests.
 */
import { expect } from 'chai';
import type { Catalog, WireBar } from '../../shared/domain/bar';
import { RejectError } from '../../shared/domain/errors';
import type { BarRow } from '../../shared/domain/flush';
import type { VenueRules } from '../../shared/domain/symbol';
import { DependencyHealth } from '../../shared/runtime/dependency-health';
import type { FatalError } from '../../shared/runtime/failures';
import { silentLogger } from '../../shared/runtime/log';
import {
  InboundMessage,
  IngestCore,
  IngestOptions,
  IngestPorts,
  OffsetToCommit,
  PipelineState,
  Rejected,
} from '../../workers/ingest/core';

const binance: VenueRules = { name: 'Binance', quotes: ['USDT'], assetAliases: {}, tickerAliases: {} };
const catalog: Catalog & { resolveUnknown(): Promise<boolean> } = {
  provider: (n) => (n.toLowerCase() === 'quantower' ? 'Quantower' : undefined),
  venue: (n) => {
    if (n === 'Buggy') throw new TypeError('boom');
    return n.toLowerCase() === 'binance' ? binance : undefined;
  },
  resolveUnknown: async () => false,
};
const T0 = Date.parse('2026-11-24T10:00:00Z');
/** The workers' clock: a day after the bars. */
const NOW = T0 + 86_400_000;

function bar(i: number, patch: Partial<WireBar> = {}): WireBar {
  return {
    symbol: 'BTCUSDT',
    timeframe: '1m',
    provider: 'Quantower',
    venue: 'Binance',
    ts_utc: T0 + i * 60_000,
    open: 1,
    high: 2,
    low: 1,
    close: 2,
    volume: 1,
    run_id: null,
    source: 'LIVE',
    history_request_id: null,
    ...patch,
  };
}

function message(offset: number, wire: WireBar, timestampMs = T0): InboundMessage {
  return {
    topic: 'bars',
    partition: 0,
    offset: String(offset),
    key: null,
    value: Buffer.from(JSON.stringify(wire)),
    timestampMs,
    headers: {},
  };
}

const transient = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

/** Ports that record what reached them; `write` can be made to fail per call. */
class Recorder {
  rows: BarRow[] = [];
  deadLetters: Rejected[] = [];
  commits: OffsetToCommit[][] = [];
  states: PipelineState[] = [];
  writeFailure: (rows: BarRow[]) => unknown = () => undefined;
  /** The row count of every write, in order. */
  flushSizes: number[] = [];
  /** Awaited before the n-th write (1-based) goes ahead: holds the writer busy. */
  writeGate: (n: number) => Promise<void> | undefined = () => undefined;

  ports(): IngestPorts {
    return {
      decode: async (value) => JSON.parse(value.toString()) as unknown,
      catalog,
      resolveSeries: async (series) =>
        new Map(series.map((s, i) => [`${s.provider}|${s.venue}|${s.symbol}|${s.timeframe}`, i + 1])),
      write: async (rows) => {
        this.flushSizes.push(rows.length);
        await this.writeGate(this.flushSizes.length);
        const failure = this.writeFailure(rows);
        if (failure) throw failure;
        this.rows.push(...rows);
        return { inserted: rows.length, corrected: 0 };
      },
      deadLetter: async (rejected) => {
        this.deadLetters.push(...rejected);
      },
      commit: async (offsets) => {
        this.commits.push(offsets);
      },
      exporterDefaults: () => undefined,
    };
  }
}

function core(recorder: Recorder, options: Partial<IngestOptions> = {}): IngestCore {
  return new IngestCore(
    recorder.ports(),
    {
      flushMaxMessages: 1_000,
      flushMaxWaitMs: 5,
      maxPendingMessages: 10_000,
      retryInitialMs: 1,
      retryMaxMs: 4,
      maxClockSkewMs: 60_000,
      now: () => NOW,
      ...options,
    },
    silentLogger,
  );
}

describe('ingest core: the flush pipeline and its failures', () => {
  it('goes idle -> collecting -> writing -> idle, and commits past every message', async () => {
    const r = new Recorder();
    const c = core(r, { flushMaxWaitMs: 20 });
    expect(c.state).to.equal('idle');
    await c.submit([message(0, bar(0)), message(1, bar(1))]);
    expect(c.state).to.equal('collecting');
    await c.idle();
    expect(c.state).to.equal('idle');
    expect(r.rows).to.have.length(2);
    expect(r.commits).to.deep.equal([[{ topic: 'bars', partition: 0, offset: '2' }]]);
  });

  it('batches adaptively: writes at once when the writer is free, and gathers what arrives while it is busy', async () => {
    const r = new Recorder();
    let release: () => void = () => undefined;
    const firstWrite = new Promise<void>((resolve) => (release = resolve));
    // The first write waits until released; a count or a timer alone would never flush 3 messages.
    r.writeGate = (n) => (n === 1 ? firstWrite : undefined);
    const c = core(r, { flushMaxWaitMs: 60_000 });
    await c.submit([0, 1, 2].map((i) => message(i, bar(i))));
    await waitUntil(() => r.flushSizes.length === 1);
    // The writer is busy: these gather into one flush instead of three.
    for (const start of [3, 103, 203]) {
      await c.submit(Array.from({ length: 100 }, (_, i) => message(start + i, bar(start + i))));
    }
    expect(r.flushSizes).to.deep.equal([3]);
    release();
    await c.idle();
    expect(r.flushSizes).to.deep.equal([3, 300]);
    expect(r.commits.at(-1)).to.deep.equal([{ topic: 'bars', partition: 0, offset: '303' }]);
  });

  it('caps a flush at flushMaxMessages however much is waiting', async () => {
    const r = new Recorder();
    const c = core(r, { flushMaxMessages: 40, flushMaxWaitMs: 60_000 });
    await c.submit(Array.from({ length: 100 }, (_, i) => message(i, bar(i))));
    await c.idle();
    expect(r.flushSizes).to.deep.equal([40, 40, 20]);
    expect(r.rows).to.have.length(100);
  });

  it('splits a flush PostgreSQL refuses until the one offender is found: the rest is written, it is dead-lettered', async () => {
    const r = new Recorder();
    const writes: number[] = [];
    r.writeFailure = (rows) => {
      writes.push(rows.length);
      return rows.some((row) => row.close === 666)
        ? Object.assign(new Error('new row violates check constraint "c"'), { code: '23514' })
        : undefined;
    };
    const c = core(r);
    await c.submit(
      Array.from({ length: 100 }, (_, i) => message(i, bar(i, i === 37 ? { close: 666, high: 666 } : {}))),
    );
    await c.idle();
    expect(r.rows).to.have.length(99);
    expect(r.deadLetters.map((d) => [d.code, d.message.offset])).to.deep.equal([['DB_REJECTED', '37']]);
    expect(r.deadLetters[0]!.reason).to.contain('SQLSTATE 23514');
    // A binary search, not one write per message.
    expect(writes.length).to.be.below(20);
    expect(r.commits.at(-1)).to.deep.equal([{ topic: 'bars', partition: 0, offset: '100' }]);
  });

  it('retries a failing dependency with backoff, reporting not ready meanwhile, and commits once it answers', async () => {
    const r = new Recorder();
    let failures = 3;
    r.writeFailure = () => (failures-- > 0 ? transient() : undefined);
    const c = core(r, { retryInitialMs: 20, retryMaxMs: 20 });
    const seen = new Set<string>();
    const watch = setInterval(() => seen.add(`${c.state}/${c.health().ready}`), 2);
    await c.submit([message(0, bar(0))]);
    await c.idle();
    clearInterval(watch);
    expect(seen).to.include('retrying/false');
    expect(c.health().ready).to.equal(true);
    expect(c.metrics.dependencyFailures).to.equal(3);
    expect(r.deadLetters).to.deep.equal([]);
    expect(r.commits).to.have.length(1);
  });

  it('dead-letters a message the validator fails on as INTERNAL_ERROR, and clock skew as CLOCK_SKEW', async () => {
    const r = new Recorder();
    const c = core(r);
    await c.submit([
      message(0, bar(0)),
      message(1, bar(1, { venue: 'Buggy' })),
      message(2, bar(2), NOW + 10 * 60_000),
      message(3, bar(3)),
    ]);
    await c.idle();
    expect(r.deadLetters.map((d) => d.code)).to.deep.equal(['INTERNAL_ERROR', 'CLOCK_SKEW']);
    expect(r.deadLetters[0]!.reason).to.contain('TypeError: boom');
    expect(r.rows).to.have.length(2);
    expect(r.commits.at(-1)![0]!.offset).to.equal('4');
  });

  it('stops loudly, committing nothing, on an error no message can cause', async () => {
    const r = new Recorder();
    r.writeFailure = () => Object.assign(new Error('permission denied for table market_bars'), { code: '42501' });
    const fatal: FatalError[] = [];
    const c = core(r, { onFatal: (err) => fatal.push(err) });
    await c.submit([message(0, bar(0)), message(1, bar(1))]);
    await c.idle();
    expect(fatal).to.have.length(1);
    expect(fatal[0]!.exitCode).to.equal(4);
    expect(c.state).to.equal('failed');
    expect(r.commits).to.deep.equal([]);
    expect(r.deadLetters).to.deep.equal([]);
  });

  it('stops loudly when every message of a flush fails alike (a bug), instead of dead-lettering the stream', async () => {
    const r = new Recorder();
    r.writeFailure = () => new TypeError("Cannot read properties of undefined (reading 'x')");
    const fatal: FatalError[] = [];
    const c = core(r, { onFatal: (err) => fatal.push(err) });
    await c.submit([message(0, bar(0)), message(1, bar(1)), message(2, bar(2))]);
    await c.idle();
    expect(fatal).to.have.length(1);
    expect(r.deadLetters).to.deep.equal([]);
    expect(r.commits).to.deep.equal([]);
  });

  it('exits with code 3 once a dependency has failed past the outage budget', async () => {
    const r = new Recorder();
    r.writeFailure = () => transient();
    const fatal: FatalError[] = [];
    const health = new DependencyHealth({ livenessTimeoutMs: 60_000, outageBudgetMs: 30 });
    health.markStarted();
    const c = new IngestCore(
      r.ports(),
      {
        flushMaxMessages: 10,
        flushMaxWaitMs: 1,
        maxPendingMessages: 100,
        retryInitialMs: 5,
        retryMaxMs: 5,
        health,
        onFatal: (e) => fatal.push(e),
      },
      silentLogger,
    );
    await c.submit([message(0, bar(0))]);
    await c.idle();
    expect(fatal.map((f) => f.exitCode)).to.deep.equal([3]);
    expect(r.commits).to.deep.equal([]);
  });

  it('never commits offsets fetched before a rebalance (they are redelivered instead)', async () => {
    const r = new Recorder();
    const c = core(r);
    let first = true;
    // The group rebalances while the first flush is being written.
    r.writeFailure = () => {
      if (first) c.rebalanced();
      first = false;
      return undefined;
    };
    await c.submit([message(0, bar(0))]);
    await c.idle();
    // The write happened (it is idempotent); the commit from the old generation did not.
    expect(r.rows).to.have.length(1);
    expect(r.commits).to.deep.equal([]);
    // Kafka redelivers from the committed offset, in the new generation: now it commits.
    await c.submit([message(0, bar(0))]);
    await c.idle();
    expect(r.commits).to.deep.equal([[{ topic: 'bars', partition: 0, offset: '1' }]]);
  });

  it('drops a commit the group refuses for a rebalance instead of retrying it or stopping', async () => {
    const r = new Recorder();
    const ports = r.ports();
    let refused = 0;
    ports.commit = async () => {
      refused += 1;
      throw Object.assign(new Error('The coordinator is not aware of this member'), { type: 'UNKNOWN_MEMBER_ID' });
    };
    const fatal: FatalError[] = [];
    const c = new IngestCore(
      ports,
      {
        flushMaxMessages: 10,
        flushMaxWaitMs: 1,
        maxPendingMessages: 100,
        retryInitialMs: 1,
        retryMaxMs: 2,
        onFatal: (e) => fatal.push(e),
      },
      silentLogger,
    );
    await c.submit([message(0, bar(0))]);
    await c.idle();
    expect(refused).to.equal(1);
    expect(fatal).to.deep.equal([]);
    expect(c.state).to.equal('idle');
    expect(r.rows).to.have.length(1);
  });

  it('treats a RejectError from decoding as bad input and a failing registry as a dependency', async () => {
    const r = new Recorder();
    const ports = r.ports();
    let registryDown = 2;
    ports.decode = async (value) => {
      if (registryDown-- > 0) throw Object.assign(new Error('registry 503'), { status: 503 });
      const text = value.toString();
      if (text === 'nope') throw new RejectError('DECODE_FAILED', 'not Avro');
      return JSON.parse(text) as unknown;
    };
    const c = new IngestCore(
      ports,
      { flushMaxMessages: 10, flushMaxWaitMs: 1, maxPendingMessages: 100, retryInitialMs: 1, retryMaxMs: 2 },
      silentLogger,
    );
    await c.submit([message(0, bar(0)), { ...message(1, bar(1)), value: Buffer.from('nope') }]);
    await c.idle();
    expect(r.deadLetters.map((d) => d.code)).to.deep.equal(['DECODE_FAILED']);
    expect(c.metrics.dependencyFailures).to.equal(2);
    expect(r.rows).to.have.length(1);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(condition(), 'condition not met within 1 s').to.equal(true);
}
