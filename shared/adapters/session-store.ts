import type { Knex } from 'knex';

import { EPOCH_MS as TS } from './sql';

/**
 * connection_sessions: the exporter's online and offline periods per provider and venue. Events
 * may arrive late or out of order, so every period's end is recomputed as the start of the next
 * one rather than patched in arrival order.
 */
export async function recordConnectionStatus(
  trx: Knex | Knex.Transaction,
  event: { provider: string; venue: string; status: 'CONNECTED' | 'DISCONNECTED'; tsMs: number },
): Promise<void> {
  await trx.raw(
    `INSERT INTO connection_sessions (provider, venue, status, from_utc) VALUES (?, ?, ?, ${TS} ?)
     ON CONFLICT (provider, venue, from_utc) DO UPDATE SET status = EXCLUDED.status`,
    [event.provider, event.venue, event.status, event.tsMs],
  );
  await trx.raw(
    `UPDATE connection_sessions cs SET to_utc = n.next_from
       FROM (SELECT id, lead(from_utc) OVER (ORDER BY from_utc) AS next_from
               FROM connection_sessions WHERE provider = ? AND venue = ?) n
      WHERE cs.id = n.id AND cs.to_utc IS DISTINCT FROM n.next_from`,
    [event.provider, event.venue],
  );
}
