/**
 * Ingest workers as real processes (test/support/worker-process.ts: one process each, so
 * /proc/<pid>/status VmHWM is that worker's own peak RSS), plus the Kafka admin calls the bench needs.
 */
import fs from 'node:fs';
import type { Admin } from 'kafkajs';
import { consumerLag } from '../shared/adapters/kafka';
import { sleep } from '../shared/runtime/sleep';
import { freePort, ROOT, WorkerProcess as Launched } from '../test/support/worker-process';

export { freePort, ROOT };

/**
 * How the project runs a worker (Dockerfile, README): V8 otherwise lets the heap grow to several
 * hundred MB under a high allocation rate although the live data stays far below this. (A larger
 * young generation, --max-semi-space-size=32, was measured too: on an idle machine it saved no CPU
 * per message and cost about 35 MB of RSS, so it is not recommended.)
 */
export const RECOMMENDED_NODE_ARGS = ['--max-old-space-size=160'];

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

/** An ingest worker of the bench: its own free health port, /healthz read as a snapshot. */
export class WorkerProcess extends Launched {
  static async start(env: Record<string, string>, extraNodeArgs: string[] = []): Promise<WorkerProcess> {
    return new WorkerProcess({
      kind: 'ingest',
      env,
      nodeArgs: extraNodeArgs,
      healthPort: await freePort(),
      maxLogLines: 2_000,
    });
  }

  /** CPU time (user + system) the worker has used so far, in seconds (/proc/<pid>/stat). */
  cpuSeconds(): number {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  }

  snapshot(): Promise<WorkerSnapshot> {
    return this.healthz<WorkerSnapshot>();
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
      if (w.hasExited) throw new Error(`worker ${w.pid} died:\n${w.logs.slice(-20).join('\n')}`);
    }
    await sleep(100);
  }
}
