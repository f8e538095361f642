/**
 * Removes what an earlier `make demo` stored, so each demo tells its story of gaps on fresh time
 * ranges: re-sent bars would otherwise fill the holes the story withholds. Only the demo's own
 * series, runs and connection sessions go; rows in any table that references them go first,
 * found from the foreign keys (so a table added later is handled too). Series get new ids, so the
 * ingest workers' Redis state for the old ones is simply never read again.
 */
import type { Knex } from 'knex';

/** The demo universe (exporter/generate.ts DEMO_SERIES) as the workers store it. */
export const DEMO_CANONICAL_SERIES = [
  ['Binance', 'BTC/USDT', '1-Min'],
  ['Binance', 'ETH/USDT', '1-Min'],
  ['Binance', 'BTC/USD', '1-Min'],
  ['Coinbase', 'BTC/USD', '1-Min'],
  ['Kraken', 'BTC/USD', '1-Min'],
  ['Kraken', 'BTC/EUR', '1-Hour'],
  ['CME', 'ESZ6', '5-Min'],
] as const;

interface ForeignKey {
  child: string;
  child_col: string;
  parent: string;
  parent_col: string;
}

async function foreignKeys(knex: Knex): Promise<ForeignKey[]> {
  const { rows } = await knex.raw<{ rows: ForeignKey[] }>(
    `SELECT c.conrelid::regclass::text AS child, a.attname AS child_col,
            c.confrelid::regclass::text AS parent, af.attname AS parent_col
       FROM pg_constraint c
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
       JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
      WHERE c.contype = 'f' AND cardinality(c.conkey) = 1`,
  );
  return rows;
}

/** Deletes the rows of `table` matching `where`, after every row that references them. */
async function purge(
  trx: Knex.Transaction,
  fks: ForeignKey[],
  table: string,
  where: string,
  bindings: Knex.RawBinding[],
  depth = 0,
): Promise<void> {
  if (depth > 5) throw new Error(`foreign keys nest too deep below ${table}`);
  for (const fk of fks.filter((f) => f.parent === table && f.child !== table)) {
    await purge(
      trx,
      fks,
      fk.child,
      `"${fk.child_col}" IN (SELECT "${fk.parent_col}" FROM ${table} WHERE ${where})`,
      bindings,
      depth + 1,
    );
  }
  await trx.raw(`DELETE FROM ${table} WHERE ${where}`, bindings);
}

export async function resetDemoData(knex: Knex): Promise<void> {
  const fks = await foreignKeys(knex);
  await knex.transaction(async (trx) => {
    const series = `provider = 'Quantower' AND (venue, symbol, timeframe) IN (${DEMO_CANONICAL_SERIES.map(() => '(?, ?, ?)').join(', ')})`;
    await purge(trx, fks, 'market_series', series, DEMO_CANONICAL_SERIES.flat());
    await purge(trx, fks, 'strategy_runs', `id LIKE 'demo-run-%'`, []);
    await trx.raw(
      `DELETE FROM connection_sessions WHERE provider = 'Quantower' AND venue IN ('Binance', 'Coinbase', 'Kraken')`,
    );
  });
}
