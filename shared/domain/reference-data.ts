/**
 * Rules for the reference data an operator administers (providers, venues with their quote
 * currencies, symbol aliases): what a valid entry looks like, checked before anything is written.
 */

export type ReferenceDataErrorCode =
  'INVALID_NAME' | 'INVALID_QUOTE' | 'INVALID_ALIAS' | 'NOT_FOUND' | 'ALREADY_EXISTS';

export class ReferenceDataError extends Error {
  constructor(
    readonly code: ReferenceDataErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReferenceDataError';
  }
}

export const ALIAS_KINDS = ['ASSET', 'TICKER'] as const;
export type AliasKind = (typeof ALIAS_KINDS)[number];

// No `|` (series keys join names with it), no leading or trailing blanks.
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9.])?$/;
const ASSET = /^[A-Z0-9.]{1,20}$/;
const TICKER = /^[A-Z0-9._\-:!^=]{1,64}$/;

/** A provider or venue name: 1-64 letters, digits, blanks, `.`, `_`, `-`. */
export function checkName(what: 'provider' | 'venue', name: string): string {
  if (!NAME.test(name)) {
    throw new ReferenceDataError(
      'INVALID_NAME',
      `${what} name ${JSON.stringify(name)} must be 1-64 letters, digits, blanks, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

/** Quote currencies, upper case, distinct: e.g. `usdt, USD` -> [USDT, USD]. Empty for venues without pairs. */
export function checkQuotes(quotes: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of quotes) {
    const q = raw.trim().toUpperCase();
    if (!/^[A-Z0-9]{2,12}$/.test(q)) {
      throw new ReferenceDataError(
        'INVALID_QUOTE',
        `quote currency ${JSON.stringify(raw)} must be 2-12 letters or digits (e.g. USDT)`,
      );
    }
    if (!out.includes(q)) out.push(q);
  }
  return out;
}

/**
 * A symbol alias: ASSET maps one asset spelling to its canonical asset (XBT -> BTC); TICKER maps
 * a whole ticker to a canonical symbol (XXBTZUSD -> BTC/USD, or a ticker that is not a pair).
 */
export function checkAlias(
  kind: string,
  alias: string,
  canonical: string,
): { kind: AliasKind; alias: string; canonical: string } {
  if (!(ALIAS_KINDS as readonly string[]).includes(kind)) {
    throw new ReferenceDataError('INVALID_ALIAS', `alias kind ${JSON.stringify(kind)} must be ASSET or TICKER`);
  }
  const a = alias.trim().toUpperCase();
  const c = canonical.trim().toUpperCase();
  if (kind === 'ASSET') {
    if (!ASSET.test(a) || !ASSET.test(c)) {
      throw new ReferenceDataError(
        'INVALID_ALIAS',
        `an ASSET alias maps one asset to another (letters, digits, '.'), e.g. XBT -> BTC; got ${JSON.stringify(alias)} -> ${JSON.stringify(canonical)}`,
      );
    }
  } else {
    const parts = c.split('/');
    const canonicalOk = parts.length === 2 ? parts.every((p) => ASSET.test(p)) : TICKER.test(c);
    if (!TICKER.test(a.replace('/', '')) || !canonicalOk) {
      throw new ReferenceDataError(
        'INVALID_ALIAS',
        `a TICKER alias maps a whole ticker to BASE/QUOTE or to a ticker, e.g. XXBTZUSD -> BTC/USD; got ${JSON.stringify(alias)} -> ${JSON.stringify(canonical)}`,
      );
    }
  }
  if (a === c) throw new ReferenceDataError('INVALID_ALIAS', `alias ${a} maps to itself`);
  return { kind: kind as AliasKind, alias: a, canonical: c };
}
