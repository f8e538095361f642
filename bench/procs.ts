/**
 * Ingest workers as real processes (node --import tsx workers/ingest/main.ts, one process each, so
 * /proc/<pid>/status VmHWM is that worker's own peak RSS), plus the Kafka admin calls the bench needs.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Admin } from 'kafkajs';
import { consumerLag } from '../shared/adapters/kafka';

export const ROOT = path.resolve(__dirname, '..');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A free port for a worker's health endpoint, below the kernel's ephemeral range (32768 and up
 * here): a port picked from that range can be taken by any outgoing connection before the worker
 * binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/**
 * How the project runs the ingest worker (Dockerfile, README): the old-space cap because V8
 * otherwise lets the heap grow to several hundred MB under a high allocation rate although the
 * live data stays far below it; a larger young generation because nearly everything a message
 * allocates dies within its flush, and a 32 MB semi-space lets it die young instead of being
 * copied into old space (measured: worker CPU per message -11%, for about 30 MB of RSS).
 */
export const RECOMMENDED_NODE_ARGS = ['--max-old-space-size=160', '--max-semi-space-size=32'];

/** USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface WorkerSnapshot {
  messages: number;
  bars_inserted: number;
  bars_corrected: number;
  bars_unchanged: number;
  flushes: number;
  largest_flush: number;
  flush_ms_p50: number;
  flush_ms_p99: number;
  stage_ms_total: Record<string, number>;
  rejected: Record<string, number>;
}

export class WorkerProcess {
  readonly logs: string[] = [];
  startedAt: number | undefined;
  private readonly child: ChildProcess;
  private readonly exit: Promise<number | null>;

  private constructor(
    env: Record<string, string>,
    readonly port: number,
    extraNodeArgs: string[],
  ) {
    this.child = spawn(
      process.execPath,
      [...extraNodeArgs, '--import', 'tsx', path.join(ROOT, 'workers/ingest/main.ts')],
      {
        cwd: ROOT,
        env: { ...env, BI_LOG_LEVEL: 'info', BI_HEALTH_PORT: String(port) },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let rest = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (this.startedAt === undefined && line.includes('ingest worker started')) this.startedAt = Date.now();
        if (this.logs.length < 2000) this.logs.push(line);
      }
    });
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  static async start(env: Record<string, string>, extraNodeArgs: string[] = []): Promise<WorkerProcess> {
    return new WorkerProcess(env, await freePort(), extraNodeArgs);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async started(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.startedAt === undefined) {
      if (this.child.exitCode !== null) throw new Error(`worker exited early:\n${this.logs.slice(-20).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`worker did not start:\n${this.logs.slice(-20).join('\n')}`);
      await sleep(20);
    }
    return this.startedAt;
  }

  /** Peak resident set size so far, in bytes (VmHWM). */
  peakRss(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  }

  /** CPU time (user + system) the worker has used so far, in seconds (/proc/<pid>/stat). */
  cpuSeconds(): number {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  }

  snapshot(): Promise<WorkerSnapshot> {
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: this.port, path: '/healthz' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => {
            try {
              resolve(JSON.parse(body) as WorkerSnapshot);
            } catch (err) {
              reject(err as Error);
            }
          });
        })
        .on('error', (err) =>
          reject(
            new Error(
              `worker ${this.pid} did not answer on port ${this.port} (${err.message}; exited: ${this.exited}):\n${this.logs.slice(-20).join('\n')}`,
            ),
          ),
        );
    });
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }
}

export async function waitForLag0(
  admin: Admin,
  topic: string,
  groupId: string,
  timeoutMs: number,
  workers: WorkerProcess[] = [],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await consumerLag(admin, topic, groupId)) === 0) return;
    if (Date.now() > deadline) throw new Error(`lag not 0 after ${timeoutMs} ms on ${topic}`);
    for (const w of workers) {
      if (w.exited) throw new Error(`worker ${w.pid} died:\n${w.logs.slice(-20).join('\n')}`);
    }
    await sleep(100);
  }
}
