/** Minimal `--name value` / `--flag` parsing, with a clear error for an unknown or bad option. */
export class ArgsError extends Error {}

export function parseArgs<T extends Record<string, number | string | boolean>>(argv: string[], defaults: T): T {
  const out: Record<string, number | string | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ArgsError(`unexpected argument ${JSON.stringify(arg)}`);
    const name = arg.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!(name in defaults)) throw new ArgsError(`unknown option ${arg}`);
    const kind = typeof defaults[name];
    if (kind === 'boolean') {
      out[name] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new ArgsError(`${arg} needs a value`);
    if (kind === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new ArgsError(`${arg} needs a number, got ${JSON.stringify(value)}`);
      out[name] = n;
    } else out[name] = value;
  }
  return out as T;
}
