import type { EnvReader } from './config';

/**
 * Named points between the durable steps of a flush. Crash-safety tests kill a worker at each of
 * them (BI_CRASH_AT) and check that a restart ends where a clean run ends.
 */
export const CRASH_POINTS = [
  'bars-committed',
  'redis-advanced',
  'gap-rows-written',
  'claims-released',
  'gap-events-produced',
  'gap-events-marked',
  'offsets-committed',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export interface CrashPlan {
  point: CrashPoint;
  /** Crash the n-th time the point is reached (1: the first). */
  hit: number;
}

let armed: CrashPlan | undefined;
let hits = 0;

/** Reads BI_CRASH_AT=<point>[:<n>]; unset in production. */
export function readCrashPlan(env: EnvReader): CrashPlan | undefined {
  const raw = env.string(
    'BI_CRASH_AT',
    '',
    `testing only: SIGKILL this process the n-th time it reaches a point, as <point>[:<n>]; points: ${CRASH_POINTS.join(', ')}`,
  );
  if (raw === '') return undefined;
  const [point, n = '1'] = raw.split(':');
  const hit = Number(n);
  if (!(CRASH_POINTS as readonly string[]).includes(point!) || !Number.isInteger(hit) || hit < 1) {
    env.problem(`BI_CRASH_AT=${raw}: expected <point>[:<n>] with n >= 1 and point one of ${CRASH_POINTS.join(', ')}`);
    return undefined;
  }
  return { point: point as CrashPoint, hit };
}

export function armCrash(plan: CrashPlan | undefined): void {
  armed = plan;
  hits = 0;
}

/** Dies on the spot, with no cleanup, as a power cut or the OOM killer would, when armed for here. */
export function crashPoint(point: CrashPoint): void {
  if (armed?.point !== point) return;
  hits += 1;
  if (hits === armed.hit) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg: 'crashing on purpose', point, hit: hits })}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
