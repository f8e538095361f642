/** What a Redis node says it ran: script calls and errors by kind (INFO commandstats / errorstats). */
import type Redis from 'ioredis';

function field(info: string, line: string, name: string): number {
  const m = new RegExp(`^${line}:.*\\b${name}=([0-9]+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

/** EVAL and EVALSHA calls the node has run since its start (or CONFIG RESETSTAT). */
export async function scriptCalls(node: Redis): Promise<number> {
  const info = await node.info('commandstats');
  return field(info, 'cmdstat_evalsha', 'calls') + field(info, 'cmdstat_eval', 'calls');
}

/** Replies of a kind (CROSSSLOT, MOVED, NOSCRIPT, ...) the node has sent since its start. */
export async function errorReplies(node: Redis, kind: string): Promise<number> {
  return field(await node.info('errorstats'), `errorstat_${kind}`, 'count');
}
