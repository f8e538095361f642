import type { EnvReader } from './config';

/** How far around now the ingest workers keep market_bars partitions created, and how often they check. */
export interface PartitionMaintenanceSettings {
  aheadDays: number;
  behindDays: number;
  /** 0: never (the partitions are then an operator's job: `make partitions ARGS='ensure ...'`). */
  everyMs: number;
}

export function readPartitionMaintenance(env: EnvReader): PartitionMaintenanceSettings {
  return {
    aheadDays: env.int(
      'BI_BAR_PARTITIONS_AHEAD_DAYS',
      62,
      'market_bars partitions are kept created up to this many days after now (at start and every BI_BAR_PARTITIONS_EVERY_MS)',
      { min: 1, max: 3_660 },
    ),
    behindDays: env.int(
      'BI_BAR_PARTITIONS_BEHIND_DAYS',
      31,
      'and from this many days before now (late bars and backfills of recent gaps); older bars need `make partitions` or land in the DEFAULT partition',
      { min: 0, max: 3_660 },
    ),
    everyMs: env.int(
      'BI_BAR_PARTITIONS_EVERY_MS',
      3_600_000,
      'how often a worker creates the market_bars partitions it lacks and checks the DEFAULT partition (ms; 0 turns the maintenance off, also at start)',
      { min: 0 },
    ),
  };
}
