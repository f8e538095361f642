import { setTimeout as wait } from 'node:timers/promises';

/** Resolves after `ms` milliseconds: Node's promise timer, under the one name the code uses for it. */
export function sleep(ms: number): Promise<void> {
  return wait(ms);
}
