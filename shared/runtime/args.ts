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

/**
 * A command's arguments, or its usage on stdout (`--help`, exit 0) or stderr with the reason (a
 * bad argument, exit 2). `check` adds the command's own rules by throwing ArgsError.
 */
export function parseArgsOrExit<T extends Record<string, number | string | boolean>>(
  argv: string[],
  defaults: T,
  usage: string,
  check: (args: T) => void = () => undefined,
): T {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage + '\n');
    process.exit(0);
  }
  try {
    const args = parseArgs(argv, defaults);
    check(args);
    return args;
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    process.stderr.write(`${err.message}\n\n${usage}\n`);
    process.exit(2);
  }
}

/**
 * Runs a command's async main and exits with its code: a bad argument (ArgsError) prints the
 * reason and the usage and exits 2; any other failure prints `<name> failed` with the stack and
 * exits 1.
 */
export function runCommand(name: string, usage: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof ArgsError) {
        process.stderr.write(`${err.message}\n\n${usage}\n`);
        process.exit(2);
      }
      process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
