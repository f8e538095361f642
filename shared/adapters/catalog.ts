import type { Knex } from 'knex';
import type { Catalog } from '../domain/bar';
import type { VenueRules } from '../domain/symbol';

interface VenueRow {
  id: number;
  name: string;
  quote_currencies: string[];
}
interface AliasRow {
  venue_id: number;
  kind: 'ASSET' | 'TICKER';
  alias: string;
  canonical: string;
}

/** How often running workers look at reference_data_version by default (ms). */
export const CATALOG_REFRESH_MS = 2_000;

/**
 * Providers and venues from PostgreSQL, held in memory for the hot path. Every change to
 * providers, venues or symbol_aliases (by `make venues` or by SQL) bumps reference_data_version
 * (a trigger); once loaded, the catalog reads that one row every `refreshEveryMs` and reloads when
 * it changed, so new venues, quote currencies and aliases take effect in running workers within
 * seconds. An unknown name also triggers at most one reload per `reloadEveryMs`, and a stream of
 * bad names cannot hammer the database.
 */
export class DbCatalog implements Catalog {
  private providers = new Map<string, string>();
  private venues = new Map<string, VenueRules>();
  private loadedAt = 0;
  /** Bumped by every load(): identity caches keyed on it drop what they hold. */
  generation = 0;
  private version: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private closed = false;

  constructor(
    private readonly knex: Knex,
    private readonly options: { autoRegister: boolean; reloadEveryMs: number; refreshEveryMs?: number } = {
      autoRegister: false,
      reloadEveryMs: 5_000,
    },
  ) {}

  /** Stops watching reference_data_version. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reloads when reference_data_version moved; returns whether it did. */
  async refresh(): Promise<boolean> {
    const row = await this.knex('reference_data_version')
      .where('id', 1)
      .first<{ version: string } | undefined>('version');
    if (!row || row.version === this.version) return false;
    await this.load();
    return true;
  }

  private watch(): void {
    if (this.timer || this.closed) return;
    const every = this.options.refreshEveryMs ?? CATALOG_REFRESH_MS;
    if (every <= 0) return;
    this.timer = setInterval(() => {
      if (this.refreshing) return;
      this.refreshing = true;
      // A failed look (database down, pool destroyed at shutdown) is retried at the next tick.
      this.refresh()
        .catch(() => undefined)
        .finally(() => (this.refreshing = false));
    }, every);
    this.timer.unref();
  }

  provider(name: string): string | undefined {
    return this.providers.get(name.toLowerCase());
  }

  venue(name: string): VenueRules | undefined {
    return this.venues.get(name.toLowerCase());
  }

  async load(): Promise<void> {
    // Read before the tables: a change made while loading moves the version again and reloads.
    const versionRow = await this.knex('reference_data_version')
      .where('id', 1)
      .first<{ version: string } | undefined>('version');
    const [providers, venues, aliases] = await Promise.all([
      this.knex<{ name: string }>('providers').select('name'),
      this.knex<VenueRow>('venues').select('id', 'name', 'quote_currencies'),
      this.knex<AliasRow>('symbol_aliases').select('venue_id', 'kind', 'alias', 'canonical'),
    ]);
    this.providers = new Map(providers.map((p) => [p.name.toLowerCase(), p.name]));
    const next = new Map<string, VenueRules>();
    for (const v of venues) {
      const own = aliases.filter((a) => a.venue_id === v.id);
      const pick = (kind: AliasRow['kind']): Record<string, string> =>
        Object.fromEntries(own.filter((a) => a.kind === kind).map((a) => [a.alias.toUpperCase(), a.canonical]));
      next.set(v.name.toLowerCase(), {
        name: v.name,
        quotes: v.quote_currencies,
        assetAliases: pick('ASSET'),
        tickerAliases: pick('TICKER'),
      });
    }
    this.venues = next;
    this.generation += 1;
    this.loadedAt = Date.now();
    this.version = versionRow?.version;
    this.watch();
  }

  /**
   * Makes the names known if they can be: reloads (rate-limited) and, when auto-registration is
   * on, registers them. Returns true if anything changed.
   */
  async resolveUnknown(providers: string[], venues: string[]): Promise<boolean> {
    if (this.options.autoRegister) {
      const newProviders = providers.filter((p) => !this.provider(p));
      const newVenues = venues.filter((v) => !this.venue(v));
      if (newProviders.length > 0) {
        await this.knex('providers')
          .insert(newProviders.map((name) => ({ name })))
          .onConflict()
          .ignore();
      }
      if (newVenues.length > 0) {
        await this.knex('venues')
          .insert(newVenues.map((name) => ({ name })))
          .onConflict()
          .ignore();
      }
      await this.load();
      return true;
    }
    if (Date.now() - this.loadedAt < this.options.reloadEveryMs) return false;
    await this.load();
    return true;
  }
}
