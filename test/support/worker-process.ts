/**
 * A worker as a real process, started through its entry point (node with tsx as a loader, so a
 * signal reaches the worker itself and not a CLI wrapper that would leave it running), for the
 * tests that kill workers, the fault and chaos runs (supervised: restarted when it exits
 * unasked, as a container runtime would) and the benchmark (its own health port, its peak RSS).
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { sleep } from '../../shared/runtime/sleep';

export const ROOT = path.resolve(__dirname, '../..');

export type WorkerKind = 'ingest' | 'continuity';
const ENTRY: Record<WorkerKind, string> = {
  ingest: 'workers/ingest/main.ts',
  continuity: 'workers/continuity/main.ts',
};
/** The log line each worker writes once it consumes. */
const STARTED: Record<WorkerKind, string> = {
  ingest: 'ingest worker started',
  continuity: 'continuity worker started',
};

export interface WorkerProcessOptions {
  kind?: WorkerKind;
  env: Record<string, string>;
  /** For the supervisor's log lines and failure messages. */
  name?: string;
  /** Node options before the loader (e.g. --max-old-space-size). */
  nodeArgs?: string[];
  /** Serve /healthz on this port (BI_HEALTH_PORT). */
  healthPort?: number;
  /** Started again 1 s after it exits without being asked to. */
  supervised?: boolean;
  /** The last this many log lines are kept. */
  maxLogLines?: number;
  /** Defaults of started() and stop(). */
  startTimeoutMs?: number;
  stopGraceMs?: number;
}

export class WorkerProcess {
  readonly kind: WorkerKind;
  readonly name: string;
  readonly logs: string[] = [];
  /** When the current process wrote its start line. */
  startedAt: number | undefined;
  restarts = 0;
  /** The exit code of every process so far (null: ended by a signal). */
  readonly exits: Array<number | null> = [];
  private child!: ChildProcess;
  private exit!: Promise<number | null>;
  private stopping = false;
  /** Set by SIGKILL or SIGTERM, cleared by the next spawn: the process is as good as gone. */
  private ending = false;

  constructor(private readonly options: WorkerProcessOptions) {
    this.kind = options.kind ?? 'ingest';
    this.name = options.name ?? this.kind;
    this.spawn();
  }

  private spawn(): void {
    this.startedAt = undefined;
    this.ending = false;
    const { env, healthPort, nodeArgs = [], maxLogLines = 50_000 } = this.options;
    this.child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, ENTRY[this.kind])], {
      cwd: ROOT,
      env: { ...env, BI_LOG_LEVEL: 'info', ...(healthPort ? { BI_HEALTH_PORT: String(healthPort) } : {}) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let rest = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        if (this.startedAt === undefined && line.includes(STARTED[this.kind])) this.startedAt = Date.now();
        this.logs.push(line);
      }
      if (this.logs.length > maxLogLines) this.logs.splice(0, this.logs.length - maxLogLines);
    });
    this.exit = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exits.push(code);
        resolve(code);
        if (this.options.supervised && !this.stopping) {
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

  /** Whether the current process has ended. */
  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  private tail(lines = 20): string {
    return this.logs.slice(-lines).join('\n');
  }

  /** Resolves with the time of the start line; an unsupervised worker that exits first fails it at once. */
  async started(timeoutMs = this.options.startTimeoutMs ?? 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.startedAt === undefined) {
      if (this.hasExited && !this.options.supervised) throw new Error(`${this.name} exited early:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not start within ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(20);
    }
    return this.startedAt;
  }

  /** Sends a signal to the current process (SIGSTOP/SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void {
    // Its exit is seen a moment later: until then the process is already as good as gone.
    if (signal === 'SIGKILL' || signal === 'SIGTERM') this.ending = true;
    this.child.kill(signal);
  }

  /** Whether the current process is alive and not told to end (between an exit and its restart it is not). */
  get running(): boolean {
    return !this.ending && !this.hasExited;
  }

  /**
   * Until the current process runs and has started: a signal sent to a worker that just died (a
   * supervisor restarts it 1 s later) reaches nobody, so a fault aimed at it waits for this.
   */
  async alive(timeoutMs = this.options.startTimeoutMs ?? 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.running && this.startedAt !== undefined)) {
      if (Date.now() > deadline)
        throw new Error(`${this.name} not running again within ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(20);
    }
  }

  /** Ends it with `signal` (no restart) and resolves with the exit code (null when the signal ended it). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.stopping = true;
    this.child.kill(signal);
    return this.exit;
  }

  /** SIGTERM (after SIGCONT, in case it is frozen) and the exit code; SIGKILL after `graceMs`. */
  async stop(graceMs = this.options.stopGraceMs ?? 30_000): Promise<number | null> {
    this.stopping = true;
    if (this.hasExited) return this.exit;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }

  /** Resolves with the exit code once the process has ended on its own; fails after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.exit, timeout]).finally(() => clearTimeout(timer));
  }

  /** Peak resident set size so far, in bytes (VmHWM). */
  peakRss(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  }

  /** The worker's /healthz answer (needs `healthPort`). */
  healthz<T>(): Promise<T> {
    const port = this.options.healthPort;
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => {
            try {
              resolve(JSON.parse(body) as T);
            } catch (err) {
              reject(err as Error);
            }
          });
        })
        .on('error', (err) =>
          reject(
            new Error(
              `worker ${this.pid} did not answer on port ${port} (${err.message}; exited: ${this.hasExited}):\n${this.tail()}`,
            ),
          ),
        );
    });
  }
}

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
