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

/**
 * Providers and venues from PostgreSQL, held in memory for the hot path. An unknown name triggers
 * at most one reload per `reloadEveryMs`, so a venue registered while workers run is picked up
 * without a restart, and a stream of bad names cannot hammer the database.
 */
export class DbCatalog implements Catalog {
  private providers = new Map<string, string>();
  private venues = new Map<string, VenueRules>();
  private loadedAt = 0;

  constructor(
    private readonly knex: Knex,
    private readonly options: { autoRegister: boolean; reloadEveryMs: number } = {
      autoRegister: false,
      reloadEveryMs: 5_000,
    },
  ) {}

  provider(name: string): string | undefined {
    return this.providers.get(name.toLowerCase());
  }

  venue(name: string): VenueRules | undefined {
    return this.venues.get(name.toLowerCase());
  }

  async load(): Promise<void> {
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
    this.loadedAt = Date.now();
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
