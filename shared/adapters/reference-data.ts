import type { Knex } from 'knex';
import { AliasKind, checkAlias, checkName, checkQuotes, ReferenceDataError } from '../domain/reference-data';

export interface VenueListing {
  name: string;
  quotes: string[];
  assetAliases: Record<string, string>;
  tickerAliases: Record<string, string>;
}

/**
 * Administration of providers, venues (quote currencies) and symbol aliases. Every write bumps
 * reference_data_version (a trigger), which running workers poll: changes take effect without a
 * restart (shared/adapters/catalog.ts). Names match case-insensitively, as the workers match them.
 */
export class ReferenceDataAdmin {
  constructor(private readonly knex: Knex) {}

  async list(): Promise<{ version: number; providers: string[]; venues: VenueListing[] }> {
    const [version, providers, venues, aliases] = await Promise.all([
      this.knex('reference_data_version').where('id', 1).first<{ version: string } | undefined>('version'),
      this.knex('providers').orderBy('name').select<Array<{ name: string }>>('name'),
      this.knex('venues')
        .orderBy('name')
        .select<Array<{ id: number; name: string; quote_currencies: string[] }>>('id', 'name', 'quote_currencies'),
      this.knex('symbol_aliases')
        .orderBy(['kind', 'alias'])
        .select<Array<{ venue_id: number; kind: AliasKind; alias: string; canonical: string }>>(
          'venue_id',
          'kind',
          'alias',
          'canonical',
        ),
    ]);
    return {
      version: Number(version?.version ?? 0),
      providers: providers.map((p) => p.name),
      venues: venues.map((v) => {
        const own = aliases.filter((a) => a.venue_id === v.id);
        const pick = (kind: AliasKind) =>
          Object.fromEntries(own.filter((a) => a.kind === kind).map((a) => [a.alias, a.canonical]));
        return { name: v.name, quotes: v.quote_currencies, assetAliases: pick('ASSET'), tickerAliases: pick('TICKER') };
      }),
    };
  }

  async addProvider(name: string): Promise<void> {
    checkName('provider', name);
    const existing = await this.knex('providers').whereRaw('lower(name) = lower(?)', [name]).first('name');
    if (existing) throw new ReferenceDataError('ALREADY_EXISTS', `provider ${existing.name} is already registered`);
    await this.knex('providers').insert({ name });
  }

  async addVenue(name: string, quotes: readonly string[]): Promise<void> {
    checkName('venue', name);
    const checked = checkQuotes(quotes);
    const existing = await this.knex('venues').whereRaw('lower(name) = lower(?)', [name]).first('name');
    if (existing) {
      throw new ReferenceDataError(
        'ALREADY_EXISTS',
        `venue ${existing.name} is already registered; change its quote currencies with set-quotes`,
      );
    }
    await this.knex('venues').insert({ name, quote_currencies: checked });
  }

  /** Replaces, adds to or removes from a venue's quote currencies; returns the new list. */
  async changeQuotes(venue: string, change: { set?: string[]; add?: string[]; remove?: string[] }): Promise<string[]> {
    return this.knex.transaction(async (trx) => {
      const row = await this.venueRow(trx, venue, true);
      let quotes = change.set ? checkQuotes(change.set) : [...row.quote_currencies];
      if (change.add) quotes = checkQuotes([...quotes, ...change.add]);
      if (change.remove) {
        const gone = checkQuotes(change.remove);
        const unknown = gone.filter((q) => !quotes.includes(q));
        if (unknown.length > 0)
          throw new ReferenceDataError('NOT_FOUND', `${row.name} has no quote currency ${unknown.join(', ')}`);
        quotes = quotes.filter((q) => !gone.includes(q));
      }
      await trx('venues').where('id', row.id).update({ quote_currencies: quotes });
      return quotes;
    });
  }

  /** Adds or replaces one alias of a venue. */
  async setAlias(venue: string, kind: string, alias: string, canonical: string): Promise<void> {
    const a = checkAlias(kind, alias, canonical);
    const row = await this.venueRow(this.knex, venue);
    await this.knex('symbol_aliases')
      .insert({ venue_id: row.id, ...a })
      .onConflict(['venue_id', 'kind', 'alias'])
      .merge(['canonical']);
  }

  async removeAlias(venue: string, kind: string, alias: string): Promise<void> {
    const row = await this.venueRow(this.knex, venue);
    const n = await this.knex('symbol_aliases')
      .where({ venue_id: row.id, kind: kind.toUpperCase(), alias: alias.trim().toUpperCase() })
      .delete();
    if (n === 0) throw new ReferenceDataError('NOT_FOUND', `${row.name} has no ${kind} alias ${alias}`);
  }

  private async venueRow(
    q: Knex | Knex.Transaction,
    name: string,
    lock = false,
  ): Promise<{ id: number; name: string; quote_currencies: string[] }> {
    const query = q('venues').whereRaw('lower(name) = lower(?)', [name]).first('id', 'name', 'quote_currencies');
    const row = (await (lock ? query.forUpdate() : query)) as
      { id: number; name: string; quote_currencies: string[] } | undefined;
    if (!row)
      throw new ReferenceDataError('NOT_FOUND', `no venue ${JSON.stringify(name)} (list them with \`make venues\`)`);
    return row;
  }
}
