/** SQL fragments every store shares. */

/** Prefix of an expression turning epoch milliseconds (a bigint parameter) into a timestamptz. */
export const EPOCH_MS = `timestamptz 'epoch' + interval '1 millisecond' *`;

/** An expression turning a timestamptz column (or aggregate of one) into epoch milliseconds, a bigint. */
export const msOf = (col: string): string => `(extract(epoch FROM ${col}) * 1000)::bigint`;
