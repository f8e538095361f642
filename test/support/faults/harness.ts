/**
 * What a fault scenario needs around the plan: worker processes it can signal (a small
 * supervisor restarts one that exits, as a container runtime would), the stack's services to
 * stop and start, SQL as the PostgreSQL superuser, a publisher that rides out a broker restart,
 * "quiet" (everything published is stored and reported), and the group's commit history read
 * from __consumer_offsets.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Message, Partitioners, Producer } from 'kafkajs';
import type { Knex } from 'knex';
import { publishConnectionStatus } from '../../../exporter/history';
import { BarPublisher } from '../../../exporter/publisher';
import { sleep, TestContext, uniqueName, waitFor } from '../stack';
import type { GapKind } from '../../../shared/domain/gaps';
import type { Phase, StreamPlan } from './plan';

const ROOT = path.resolve(__dirname, '../../..');
const run = promisify(execFile);

export type WorkerKind = 'ingest' | 'continuity';
const ENTRY: Record<WorkerKind, string> = {
  ingest: 'workers/ingest/main.ts',
  continuity: 'workers/continuity/main.ts',
};
const STARTED: Record<WorkerKind, string> = {
  ingest: 'ingest worker started',
  continuity: 'continuity worker started',
};

/** One worker process, restarted by its supervisor when it exits without being asked to. */
export class FleetProcess {
  readonly logs: string[] = [];
  restarts = 0;
  exits: Array<number | null> = [];
  private child!: ChildProcess;
  private exit!: Promise<number | null>;
  private stopping = false;
  /** Set by SIGKILL or SIGTERM, cleared by the next spawn. */
  private ending = false;
  private startedAt = 0;

  constructor(
    readonly kind: WorkerKind,
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {
    this.spawn();
  }

  private spawn(): void {
    this.startedAt = this.logs.length;
    this.ending = false;
    // node with tsx as a loader: a signal reaches the worker itself, not a CLI wrapper.
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, ENTRY[this.kind])], {
      cwd: ROOT,
      env: { ...this.env, BI_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let rest = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      this.logs.push(...lines);
      if (this.logs.length > 50_000) this.logs.splice(0, this.logs.length - 40_000);
    });
    this.exit = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exits.push(code);
        resolve(code);
        if (!this.stopping) {
          // A worker that gives up (an outage budget spent, a failed start) is started again.
          this.logs.push(`[supervisor] ${this.name} exited (code ${code}, signal ${signal}); restarting in 1 s`);
          this.restarts += 1;
          setTimeout(() => {
            if (!this.stopping) this.spawn();
          }, 1_000);
        }
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  async started(timeoutMs = 90_000): Promise<void> {
    await waitFor(
      () => this.logs.slice(this.startedAt).some((l) => l.includes(STARTED[this.kind])),
      timeoutMs,
      `${this.name} to start:\n${this.logs.slice(-15).join('\n')}`,
    );
  }

  signal(signal: NodeJS.Signals): void {
    // Its exit is seen a moment later: until then the incarnation is already as good as gone.
    if (signal === 'SIGKILL' || signal === 'SIGTERM') this.ending = true;
    this.child.kill(signal);
  }

  /** Whether the current incarnation is alive and not told to end (between an exit and its restart it is not). */
  get running(): boolean {
    return !this.ending && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Until the current incarnation runs and has started: a signal sent to a worker that just died
   * (the supervisor restarts it 1 s later) reaches nobody, so a fault aimed at it waits for this.
   */
  async alive(timeoutMs = 90_000): Promise<void> {
    await waitFor(
      () => this.running && this.logs.slice(this.startedAt).some((l) => l.includes(STARTED[this.kind])),
      timeoutMs,
      `${this.name} to be running again:\n${this.logs.slice(-15).join('\n')}`,
    );
  }

  /** SIGTERM (after SIGCONT, in case it is frozen) and the exit code; SIGKILL after `graceMs`. */
  async stop(graceMs = 45_000): Promise<number | null> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exit;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }

  async kill(): Promise<number | null> {
    this.stopping = true;
    this.child.kill('SIGKILL');
    return this.exit;
  }
}

/** The worker processes of one run. */
export class Fleet {
  readonly procs: FleetProcess[] = [];
  private n = 0;
  constructor(private readonly env: Record<string, string>) {}

  start(kind: WorkerKind, overrides: Record<string, string> = {}): FleetProcess {
    const p = new FleetProcess(kind, `${kind}-${++this.n}`, { ...this.env, ...overrides });
    this.procs.push(p);
    return p;
  }

  async startAndWait(kind: WorkerKind, overrides: Record<string, string> = {}): Promise<FleetProcess> {
    const p = this.start(kind, overrides);
    await p.started();
    return p;
  }

  of(kind: WorkerKind): FleetProcess[] {
    return this.procs.filter((p) => p.kind === kind);
  }

  async remove(p: FleetProcess): Promise<number | null> {
    this.procs.splice(this.procs.indexOf(p), 1);
    return p.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.procs.splice(0).map((p) => p.stop()));
  }

  /** Last log lines of every process, for a failure message. */
  tail(lines = 8): string {
    return this.procs.map((p) => `--- ${p.name} (pid ${p.pid})\n${p.logs.slice(-lines).join('\n')}`).join('\n');
  }
}

/** `scripts/stack.sh down|up <service>` against this worktree's stack. */
export async function stackService(
  cmd: 'up' | 'down',
  service: 'postgres' | 'redis' | 'kafka' | 'registry',
): Promise<void> {
  // A JVM start on this loaded machine sometimes misses the script's readiness deadline (Kafka
  // recovering many partitions, Apicurio's H2 pool timing out): try again, as an operator would.
  for (let attempt = 1; ; attempt++) {
    try {
      await run(path.join(ROOT, 'scripts/stack.sh'), [cmd, service], { cwd: ROOT, maxBuffer: 1 << 22 });
      return;
    } catch (err) {
      if (cmd === 'down' || attempt >= 3) throw err;
      process.stderr.write(`[faults] ${service} did not come up (attempt ${attempt}); trying again\n`);
      await sleep(3_000);
    }
  }
}

/** SQL as the cluster's superuser, over the stack's private unix socket. */
export async function superuserSql(
  sql: string,
  database = process.env.BI_PG_DATABASE ?? 'bar_ingest_test',
): Promise<string> {
  const versions = fs.readdirSync('/usr/lib/postgresql').sort();
  const psql = `/usr/lib/postgresql/${versions[versions.length - 1]}/bin/psql`;
  const stackDir = process.env.BI_STACK_DIR ?? path.join(ROOT, '.stack');
  const { stdout } = await run(psql, [
    '-X',
    '-q',
    '-tA',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    path.join(stackDir, 'run/pg'),
    '-p',
    process.env.BI_PG_PORT ?? '55432',
    '-U',
    'postgres',
    '-d',
    database,
    '-c',
    sql,
  ]);
  return stdout.trim();
}

/** Publishes the plan's phases as an exporter would, retrying a send the broker did not take. */
export class PlanPublisher {
  private producer: Producer | undefined;
  private publisher: BarPublisher | undefined;
  resent = 0;

  constructor(private readonly ctx: TestContext) {}

  private async connect(): Promise<{ producer: Producer; publisher: BarPublisher }> {
    if (!this.producer || !this.publisher) {
      const producer = this.ctx.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const publisher = new BarPublisher(producer, this.ctx.codec, this.ctx.topics.bars, 'fault-exporter');
      await publisher.init();
      this.producer = producer;
      this.publisher = publisher;
    }
    return { producer: this.producer, publisher: this.publisher };
  }

  private async retrying(what: string, fn: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await fn();
        return;
      } catch (err) {
        if (attempt >= 60) throw new Error(`${what} failed 60 times: ${(err as Error).message}`);
        this.resent += 1;
        await this.producer?.disconnect().catch(() => undefined);
        this.producer = undefined;
        this.publisher = undefined;
        await sleep(1_000);
      }
    }
  }

  async encode(phase: Phase): Promise<Message[]> {
    const { publisher } = await this.connect();
    const out: Message[] = [];
    for (const m of phase.messages) {
      if ('bar' in m) out.push(await publisher.encode(m.bar));
      else if ('raw' in m.poison) out.push({ key: 'poison', value: Buffer.from(m.poison.raw, 'base64') });
      else out.push(await publisher.encode(m.poison.bar));
    }
    return out;
  }

  /** Status events, then the messages in chunks (at `ratePerSec` if given). */
  async publish(
    phase: Phase,
    opts: { chunk?: number; ratePerSec?: number; onChunk?: (sent: number) => Promise<void> | void } = {},
  ) {
    for (const s of phase.statuses) {
      await this.retrying('a status event', async () => {
        const { producer } = await this.connect();
        await publishConnectionStatus(producer, this.ctx.codec, this.ctx.topics.connectionStatus, {
          provider: 'Quantower',
          venue: s.venue,
          status: s.status,
          ts_utc: s.tsMs,
        });
      });
    }
    const messages = await this.encode(phase);
    const chunk = opts.chunk ?? 2_000;
    const started = Date.now();
    for (let i = 0; i < messages.length; i += chunk) {
      const slice = messages.slice(i, i + chunk);
      await this.retrying('a chunk of bars', async () => {
        const { producer } = await this.connect();
        await producer.send({ topic: this.ctx.topics.bars, acks: -1, messages: slice });
      });
      await opts.onChunk?.(i + slice.length);
      if (opts.ratePerSec) {
        const due = started + ((i + slice.length) / opts.ratePerSec) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
  }
}

/** Consumer lag that treats a broker that does not answer as "not quiet yet". */
async function lagOr(ctx: TestContext, topic: string, group: string): Promise<number> {
  try {
    return await ctx.lag(topic, group);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export const continuityGroup = (ctx: TestContext): string => `${ctx.prefix}bar-ingest-continuity`;

/**
 * Everything published is stored and reported: ingest and continuity lag 0, every gap's latest
 * state published, and (with backfill kinds) every such gap requested; twice in a row, 1 s apart.
 */
export async function waitQuiet(
  ctx: TestContext,
  knex: Knex,
  opts: { timeoutMs?: number; backfillKinds?: GapKind[]; continuity?: boolean; fleet?: Fleet } = {},
): Promise<void> {
  const quiet = async (): Promise<boolean> => {
    if ((await lagOr(ctx, ctx.topics.bars, `${ctx.prefix}ingest`)) !== 0) return false;
    if (opts.continuity !== false && (await lagOr(ctx, ctx.topics.connectionStatus, continuityGroup(ctx))) !== 0)
      return false;
    try {
      const { rows } = await knex.raw<{ rows: Array<{ n: number }> }>(
        `SELECT count(*)::int AS n FROM data_gaps
          WHERE event_version > published_version
             OR (status = 'OPEN' AND kind = ANY(?::text[]))`,
        [opts.backfillKinds ?? []],
      );
      return rows[0]!.n === 0;
    } catch {
      return false;
    }
  };
  let streak = 0;
  try {
    await waitFor(
      async () => {
        streak = (await quiet()) ? streak + 1 : 0;
        if (streak < 2) await sleep(900);
        return streak >= 2;
      },
      opts.timeoutMs ?? 180_000,
      'the run to be quiet (lag 0, every gap published)',
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${opts.fleet?.tail() ?? ''}`);
  }
}

/** Rows and the sum of their revisions: what a phase has changed once applied. */
export async function barFingerprint(knex: Knex): Promise<{ bars: number; revisions: number; subscriptions: number }> {
  const { rows } = await knex.raw<{ rows: Array<{ bars: number; revisions: number; subs: number }> }>(
    `SELECT (SELECT count(*)::int FROM market_bars) AS bars,
            (SELECT coalesce(sum(revision), 0)::int FROM market_bars) AS revisions,
            (SELECT count(*)::int FROM run_subscriptions) AS subs`,
  );
  return { bars: rows[0]!.bars, revisions: rows[0]!.revisions, subscriptions: rows[0]!.subs };
}

/**
 * The lenient quiet of the chaos run: the phase's rows are all there (count and revisions as
 * expected), every gap published, continuity caught up, and the ingest group's lag either 0 or
 * unchanged for 10 s. A lag that stays is a committed offset that moved backwards after a
 * rebalance (see the fault suite's SIGSTOP scenario): the messages were processed, only the
 * commit is behind. Returns that lag.
 */
export async function waitApplied(
  ctx: TestContext,
  knex: Knex,
  want: { bars: number; revisions: number; subscriptions: number },
  opts: { timeoutMs?: number; backfillKinds?: GapKind[]; fleet?: Fleet },
): Promise<number> {
  let lastLag = -1;
  let lagSince = Date.now();
  let result = 0;
  try {
    await waitFor(
      async () => {
        const lag = await lagOr(ctx, ctx.topics.bars, `${ctx.prefix}ingest`);
        if (lag !== lastLag) {
          lastLag = lag;
          lagSince = Date.now();
        }
        const stableLag = lag === 0 || (Number.isFinite(lag) && Date.now() - lagSince >= 10_000);
        if (!stableLag) return false;
        if ((await lagOr(ctx, ctx.topics.connectionStatus, continuityGroup(ctx))) !== 0) return false;
        try {
          const got = await barFingerprint(knex);
          if (got.bars !== want.bars || got.revisions !== want.revisions || got.subscriptions !== want.subscriptions)
            return false;
          const { rows } = await knex.raw<{ rows: Array<{ n: number }> }>(
            `SELECT count(*)::int AS n FROM data_gaps
              WHERE event_version > published_version OR (status = 'OPEN' AND kind = ANY(?::text[]))`,
            [opts.backfillKinds ?? []],
          );
          if (rows[0]!.n !== 0) return false;
        } catch {
          return false;
        }
        result = lag;
        return true;
      },
      opts.timeoutMs ?? 600_000,
      `the phase to be applied (${JSON.stringify(want)})`,
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; now ${JSON.stringify(await barFingerprint(knex).catch(() => null))}\n${opts.fleet?.tail() ?? ''}`,
    );
  }
  return result;
}

/** Publishes each phase and waits for quiet before the next (see plan.ts for why). */
export async function runPlan(
  ctx: TestContext,
  knex: Knex,
  plan: StreamPlan,
  opts: {
    publisher: PlanPublisher;
    fleet?: Fleet;
    backfillKinds?: GapKind[];
    /** Runs while phase `index` is being published and consumed (inject the fault here). */
    during?: (index: number, phase: Phase) => Promise<void>;
    ratePerSec?: number;
    timeoutMs?: number;
  },
): Promise<void> {
  for (const [index, phase] of plan.phases.entries()) {
    const publishing = opts.publisher.publish(phase, { ratePerSec: opts.ratePerSec });
    const fault = opts.during?.(index, phase) ?? Promise.resolve();
    await Promise.all([publishing, fault]);
    await waitQuiet(ctx, knex, { backfillKinds: opts.backfillKinds, fleet: opts.fleet, timeoutMs: opts.timeoutMs });
  }
}

/** Committed offsets of one group, as written to __consumer_offsets, in order. */
export class CommitLog {
  /** `topic/partition` -> every committed offset, in log order. */
  readonly commits = new Map<string, number[]>();
  /** Generations of the group with the time the broker wrote them, in log order (one per rebalance). */
  readonly generations: Array<{ generation: number; atMs: number }> = [];
  private readonly consumer;
  private readonly readUpTo = new Map<number, number>();

  constructor(
    private readonly ctx: TestContext,
    private readonly groupId: string,
  ) {
    this.consumer = ctx.kafka.consumer({ groupId: uniqueName('offsets-reader'), maxWaitTimeInMs: 200 });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: '__consumer_offsets', fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        // After a broker restart this reader may be handed records again: count each one once.
        const at = Number(message.offset);
        if (at <= (this.readUpTo.get(partition) ?? -1)) return;
        this.readUpTo.set(partition, at);
        if (!message.key) return;
        const key = readKey(message.key);
        if (!key || key.group !== this.groupId) return;
        if (key.type === 'offset' && message.value) {
          const list = this.commits.get(`${key.topic}/${key.partition}`) ?? [];
          list.push(Number(message.value.readBigInt64BE(2)));
          this.commits.set(`${key.topic}/${key.partition}`, list);
        } else if (key.type === 'group' && message.value) {
          const protoLen = message.value.readInt16BE(2);
          this.generations.push({
            generation: message.value.readInt32BE(4 + Math.max(0, protoLen)),
            atMs: Number(message.timestamp),
          });
        }
      },
    });
  }

  /** Generations that started between two instants (the log may be read a little later). */
  generationsBetween(fromMs: number, toMs: number): number[] {
    return [...new Set(this.generations.filter((g) => g.atMs >= fromMs && g.atMs <= toMs).map((g) => g.generation))];
  }

  /** Every commit that moved a partition's committed offset backwards. */
  backwards(): string[] {
    const out: string[] = [];
    for (const [tp, list] of this.commits)
      list.forEach((o, i) => {
        if (i > 0 && o < list[i - 1]!) out.push(`${tp}: ${list[i - 1]} -> ${o} (commit ${i + 1} of ${list.length})`);
      });
    return out;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
  }
}

/** The key of a __consumer_offsets record: an offset commit (v0/v1) or group metadata (v2). */
function readKey(
  buf: Buffer,
): { type: 'offset'; group: string; topic: string; partition: number } | { type: 'group'; group: string } | undefined {
  const version = buf.readInt16BE(0);
  let pos = 2;
  const str = (): string => {
    const len = buf.readInt16BE(pos);
    const s = buf.toString('utf8', pos + 2, pos + 2 + len);
    pos += 2 + len;
    return s;
  };
  if (version === 0 || version === 1) {
    const group = str();
    const topic = str();
    return { type: 'offset', group, topic, partition: buf.readInt32BE(pos) };
  }
  if (version === 2) return { type: 'group', group: str() };
  return undefined;
}
