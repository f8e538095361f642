import fs from 'node:fs';
import { registerSecret } from './log';

/**
 * Configuration from the environment. Every reader records what it could not parse, so a
 * misconfigured process stops at start-up with one message listing each invalid value instead
 * of failing on the first and hiding the rest.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface VarDoc {
  name: string;
  fallback: string;
  help: string;
}

type Env = Record<string, string | undefined>;

/** Reads a file named by a variable; injectable so tests need no files. */
export type FileReader = (path: string) => string;
const readFileUtf8: FileReader = (p) => fs.readFileSync(p, 'utf8');

export class EnvReader {
  private readonly problems: string[] = [];
  /** Every variable read, for --help. */
  readonly documented: VarDoc[] = [];
  /** Deprecated variables found set, each with what to do; the process logs them at start. */
  readonly deprecations: string[] = [];
  /** New name -> the deprecated name whose value it takes this release. */
  private readonly renamedFrom = new Map<string, string>();

  constructor(
    private readonly env: Env = process.env,
    private readonly readFile: FileReader = readFileUtf8,
  ) {}

  /** True when the variable is set to something other than blanks. */
  isSet(name: string): boolean {
    const value = this.env[name];
    return value !== undefined && value.trim() !== '';
  }

  /**
   * `oldName` was renamed to `newName`: for one release its value is still read (when `newName`
   * is not set) and a deprecation is recorded either way. Call before reading `newName`.
   */
  renamed(oldName: string, newName: string): void {
    if (!this.isSet(oldName)) return;
    if (this.isSet(newName)) {
      this.deprecations.push(`${oldName} is ignored because ${newName} is set; remove ${oldName} (deprecated)`);
      return;
    }
    this.deprecations.push(
      `${oldName} is deprecated and will be removed in the next release: rename it to ${newName} (its value is used meanwhile)`,
    );
    this.renamedFrom.set(newName, oldName);
  }

  private raw(name: string, fallback: string, help: string): string {
    this.documented.push({ name, fallback, help });
    const from = this.renamedFrom.get(name);
    const value = this.env[name] ?? (from === undefined ? undefined : this.env[from]);
    return value === undefined || value.trim() === '' ? fallback : value.trim();
  }

  string(name: string, fallback: string, help: string): string {
    return this.raw(name, fallback, help);
  }

  int(name: string, fallback: number, help: string, range: { min?: number; max?: number } = {}): number {
    const text = this.raw(name, String(fallback), help);
    const value = Number(text);
    const min = range.min ?? Number.MIN_SAFE_INTEGER;
    const max = range.max ?? Number.MAX_SAFE_INTEGER;
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
      this.problems.push(`${name}=${JSON.stringify(text)} is not a whole number (${help})`);
      return fallback;
    }
    if (value < min || value > max) {
      this.problems.push(`${name}=${value} is out of range [${min}, ${max}] (${help})`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean, help: string): boolean {
    const text = this.raw(name, fallback ? 'true' : 'false', help).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    this.problems.push(`${name}=${JSON.stringify(text)} is not a boolean: use true or false (${help})`);
    return fallback;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[], help: string): T {
    const text = this.raw(name, fallback, help);
    if ((allowed as readonly string[]).includes(text)) return text as T;
    this.problems.push(`${name}=${JSON.stringify(text)} must be one of ${allowed.join(', ')} (${help})`);
    return fallback;
  }

  /** An ISO-8601 UTC date or instant (`1990-01-01`, `1990-01-01T00:00:00Z`), as epoch milliseconds. */
  instant(name: string, fallback: string, help: string): number {
    const text = this.raw(name, fallback, help);
    const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z)?$/.test(text) ? Date.parse(text) : NaN;
    if (Number.isNaN(ms)) {
      this.problems.push(`${name}=${JSON.stringify(text)} is not a UTC time such as 1990-01-01T00:00:00Z (${help})`);
      return Date.parse(fallback);
    }
    return ms;
  }

  list(name: string, fallback: string[], help: string): string[] {
    return this.raw(name, fallback.join(','), help)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }

  /**
   * A secret: the value of NAME, or the content of the file NAME_FILE names (the Docker and
   * Kubernetes secrets convention; one trailing newline is dropped). Setting both is refused.
   * The value never appears in a problem message or in --help.
   */
  secret(name: string, fallback: string, help: string): string {
    const value = this.secretValue(name, fallback, help);
    // Whatever a log line, an error message or /metrics would print, this value is masked.
    registerSecret(value);
    return value;
  }

  private secretValue(name: string, fallback: string, help: string): string {
    this.documented.push({ name, fallback, help: `${help} (secret)` });
    this.documented.push({ name: `${name}_FILE`, fallback: '', help: `file holding ${name} (instead of ${name})` });
    const direct = this.isSet(name);
    const file = this.isSet(`${name}_FILE`) ? this.env[`${name}_FILE`]!.trim() : undefined;
    if (direct && file !== undefined) {
      this.problems.push(`${name} and ${name}_FILE are both set: set only one`);
      return fallback;
    }
    if (file !== undefined) {
      try {
        return this.readFile(file).replace(/\r?\n$/, '');
      } catch (err) {
        this.problems.push(
          `${name}_FILE=${JSON.stringify(file)} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        );
        return fallback;
      }
    }
    return direct ? this.env[name]! : fallback;
  }

  /**
   * A file path read at start-up (a CA bundle, a certificate): returns its content, or undefined
   * when the variable is not set. An unreadable file is a problem naming the variable.
   */
  fileContent(name: string, help: string): string | undefined {
    const file = this.raw(name, '', help);
    if (file === '') return undefined;
    try {
      return this.readFile(file);
    } catch (err) {
      this.problems.push(
        `${name}=${JSON.stringify(file)} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'} (${help})`,
      );
      return undefined;
    }
  }

  /** Records a problem found while interpreting a value this reader returned. */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws one ConfigError naming every invalid variable read so far. */
  check(): void {
    if (this.problems.length > 0) throw new ConfigError([...this.problems]);
  }

  helpText(): string {
    const width = Math.max(...this.documented.map((d) => d.name.length));
    return this.documented
      .map((d) => `  ${d.name.padEnd(width)}  ${d.help} (default: ${d.fallback === '' ? 'none' : d.fallback})`)
      .join('\n');
  }
}
