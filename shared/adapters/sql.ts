/** SQL fragments every store shares. */

/** Prefix of an expression turning epoch milliseconds (a bigint parameter) into a timestamptz. */
export const EPOCH_MS = `timestamptz 'epoch' + interval '1 millisecond' *`;
