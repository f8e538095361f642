/**
 * The legacy per-run store, converted in place into the shared store with set-based SQL:
 *
 *   legacy layout:  strategy_runs(id), run_series(run_id, symbol, timeframe),
 *                   <legacy bar table>(run_id, symbol, timeframe, ts_utc, open, high, low, close, volume)
 *                   where every run holds its own copy of every bar it saw.
 *   result:         market_series (normalized identities), market_bars (union of all runs' bars,
 *                   one row per bar), run_subscriptions (one per run and series), run_series kept
 *                   as the mapping (run_id, symbol, timeframe) -> series_id.
 *
 * Steps (the SQL of each is in shared/adapters/legacy-store.ts): map (provider/venue only from the explicit mapping; unmapped rows get a reason and are
 * left in place), then bars series by series in chunks of distinct open times, one transaction per
 * chunk that also advances the resume point, so an interruption at any moment resumes without
 * loss or double counting; then verify. The legacy bar table is dropped only by dropLegacy().
 */
import { retryTransient } from '../../shared/runtime/dependency-health';
import { isTransient } from '../../shared/runtime/failures';
import type { LegacyStore, RunSeriesMapping } from '../../shared/adapters/legacy-store';
import { isVerified, LegacyMapping, resolveRunSeries, VerificationReport } from '../../shared/domain/legacy';

export interface LegacyMigrationOptions {
  mapping: LegacyMapping;
  /** Distinct bar open times per chunk (one transaction each). */
  chunkBars: number;
  onProgress?: (p: { done: number; total: number; seriesId: number }) => void;
  /** Stops between chunks; the next run resumes where this one stopped. */
  signal?: AbortSignal;
  /** Stops after this many chunks (tests use it to interrupt halfway). */
  maxChunks?: number;
  /** How long a failing database is waited out (chunk by chunk, with backoff) before giving up. */
  outageBudgetMs?: number;
  onRetry?: (err: unknown, delayMs: number) => void;
}

export interface MigrateOutcome {
  completed: boolean;
  mapped: number;
  unmapped: number;
  chunks: number;
  report?: VerificationReport;
}

export class LegacyMigrationError extends Error {}

export class LegacyMigrator {
  constructor(
    private readonly store: LegacyStore,
    private readonly options: LegacyMigrationOptions,
  ) {}

  private get table(): string {
    return this.store.table;
  }

  legacyTableExists(): Promise<boolean> {
    return this.store.legacyTableExists();
  }

  tableSizes(): Promise<Record<string, number>> {
    return this.store.tableSizes();
  }

  /** Runs (or resumes) the migration. `completed: false` means it was interrupted; run again to resume. */
  async migrate(): Promise<MigrateOutcome> {
    if (!(await this.legacyTableExists())) {
      throw new LegacyMigrationError(
        `legacy bar table "${this.table}" does not exist: nothing to migrate (a new install needs no migration; ` +
          'set BI_LEGACY_BARS_TABLE if the legacy table has another name)',
      );
    }
    await this.store.recordStart();
    const { mapped, unmapped } = await this.mapRunSeries();
    await this.store.startBars();

    const total = await this.store.distinctMappedBars();
    let done = await this.store.barsDone();
    let chunks = 0;
    for (const seriesId of await this.store.pendingSeries()) {
      for (;;) {
        if (
          this.options.signal?.aborted ||
          (this.options.maxChunks !== undefined && chunks >= this.options.maxChunks)
        ) {
          return { completed: false, mapped, unmapped, chunks };
        }
        // A chunk is one transaction and the resume point moves with it, so retrying one that
        // failed on a dependency is safe; anything else stops the run (it resumes when run again).
        const bars = await retryTransient(() => this.store.migrateChunk(seriesId, this.options.chunkBars), {
          isTransient,
          budgetMs: this.options.outageBudgetMs ?? 300_000,
          onRetry: this.options.onRetry,
        });
        chunks += 1;
        if (bars === 0) break;
        done += bars;
        this.options.onProgress?.({ done, total, seriesId });
      }
    }
    const report = await this.verify();
    return { completed: true, mapped, unmapped, chunks, report };
  }

  /**
   * Gives every not-yet-mapped run_series row its canonical series, or the reason it has none.
   * Rows unmapped on an earlier run are tried again, so adding a mapping and re-running picks them up.
   */
  private async mapRunSeries(): Promise<{ mapped: number; unmapped: number }> {
    const catalog = await this.store.catalog();
    const rows = await this.store.unmappedRunSeries();
    const mapping: RunSeriesMapping = {
      mapped: { id: [], symbol: [], timeframe: [], provider: [], venue: [], rule: [] },
      unmapped: { id: [], reason: [] },
    };
    const { mapped: ok, unmapped: bad } = mapping;
    for (const row of rows) {
      const r = resolveRunSeries(
        { runId: row.run_id, symbol: row.symbol, timeframe: row.timeframe },
        this.options.mapping,
        catalog,
      );
      if (r.ok) {
        ok.id.push(row.id);
        ok.symbol.push(r.symbol);
        ok.timeframe.push(r.timeframe);
        ok.provider.push(r.provider);
        ok.venue.push(r.venue);
        ok.rule.push(r.rule);
      } else {
        bad.id.push(row.id);
        bad.reason.push(r.reason);
      }
    }
    await this.store.applyMapping(mapping);
    return { mapped: ok.id.length, unmapped: bad.id.length };
  }

  /** Recounts everything from the tables (not from counters) and stores the report. */
  async verify(): Promise<VerificationReport> {
    const sizesBefore = await this.store.sizesBefore();
    if (!sizesBefore) throw new LegacyMigrationError('the legacy migration has not been started: run `migrate` first');
    const report: VerificationReport = {
      ...(await this.store.verificationCounts()),
      sizesBefore,
      sizesAfter: await this.store.tableSizes(),
    };
    await this.store.storeReport(report, isVerified(report));
    return report;
  }

  /**
   * Drops the legacy bar table, only after a fresh verification shows every mapped bar migrated
   * and nothing unmapped: dropping unmapped rows would lose bars nobody has a home for yet.
   */
  async dropLegacy(): Promise<VerificationReport> {
    if (!(await this.legacyTableExists())) {
      throw new LegacyMigrationError(`legacy bar table "${this.table}" does not exist (already dropped?)`);
    }
    const report = await this.verify();
    if (!isVerified(report)) {
      throw new LegacyMigrationError(
        `refusing to drop "${this.table}": verification failed (distinct bars ${report.distinctBars}, migrated ` +
          `${report.migratedBars}, unmapped run_series rows ${report.unmappedRunSeries} holding ${report.unmappedBars} bars). ` +
          'Map the rows listed in run_series.unmapped_reason and run `migrate` again.',
      );
    }
    await this.store.dropLegacyTable();
    return report;
  }
}
