// Go's `flag` package semantics, which docker-proxy's command line has and dockerd relies on:
// one or two dashes, -f=v and -f v (not for bools), parsing stops at the first positional
// argument, the last repeat wins, Go's error texts and usage layout. yargs parses the result
// (cli.ts); this file only does what yargs does differently from Go.

/** How one flag's value is checked when it is set, in command-line order, as Go's Value.Set does. */
export interface GoFlag {
  readonly name: string;
  /** Go's type word in the usage text: 'string', 'int', 'value', or '' for bool flags. */
  readonly typeName: 'string' | 'int' | 'value' | '';
  readonly usage: string;
  /** The usage text's " (default X)" part, already formatted as Go would; '' for zero values. */
  readonly defaultText: string;
  /** Returns the reason a value is rejected (Go's error text after the colon), or undefined. */
  readonly check: (value: string) => string | undefined;
  /** Every occurrence counts (like -p), instead of Go's "the last one wins". */
  readonly repeatable?: boolean;
}

export type GoFlagResult =
  | {
    readonly kind: 'ok';
    /** The last value of each flag given. */
    readonly values: ReadonlyMap<string, string>;
    /** Every value of each repeatable flag, in order. */
    readonly lists: ReadonlyMap<string, readonly string[]>;
  }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** Go's strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

const INT64_MAX = (1n << 63n) - 1n;

/**
 * Go's strconv.ParseInt(text, 0, 64): optional sign, 0x/0o/0b prefixes, a leading 0 for octal,
 * '_' separators as in Go literals. Returns a bigint, or Go's reason for the flag error text.
 */
export function parseGoInt(text: string): bigint | 'parse error' | 'value out of range' {
  const negative = text.startsWith('-');
  const unsigned = negative || text.startsWith('+') ? text.slice(1) : text;
  if (unsigned === '') return 'parse error';
  let radix = 10;
  let body = unsigned;
  if (unsigned.startsWith('0')) {
    const prefixed = unsigned.length >= 3 ? { b: 2, o: 8, x: 16 }[unsigned.charAt(1).toLowerCase()] : undefined;
    radix = prefixed ?? 8;
    body = unsigned.slice(prefixed === undefined ? 1 : 2);
  }
  const limit = negative ? INT64_MAX + 1n : INT64_MAX;
  let value = 0n;
  let underscores = false;
  for (const char of body) {
    if (char === '_') {
      underscores = true;
      continue;
    }
    const digit = parseInt(char, 36);
    if (Number.isNaN(digit) || digit >= radix) return 'parse error';
    value = value * BigInt(radix) + BigInt(digit);
    if (value > limit) return 'value out of range';
  }
  if (underscores && !underscoresOk(unsigned)) return 'parse error';
  return negative ? -value : value;
}

/** Go's underscoreOK: '_' only between digits, or between a base prefix and a digit. */
function underscoresOk(unsigned: string): boolean {
  let saw = '^';
  let index = 0;
  const prefix = unsigned.length >= 2 && unsigned.startsWith('0') && 'box'.includes(unsigned.charAt(1).toLowerCase());
  const hex = prefix && unsigned.charAt(1).toLowerCase() === 'x';
  if (prefix) {
    index = 2;
    saw = '0';
  }
  for (; index < unsigned.length; index++) {
    const char = unsigned.charAt(index);
    if (/[0-9]/.test(char) || (hex && /[a-f]/i.test(char))) saw = '0';
    else if (char === '_') {
      if (saw !== '0') return false;
      saw = '_';
    } else if (saw === '_') return false;
    else saw = '!';
  }
  return saw !== '_';
}

/** Go's %q for the strings a command line can carry. */
export function goQuote(text: string): string {
  const named: Readonly<Record<string, string>> = {
    '"': '\\"', '\\': '\\\\', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v',
  };
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (named[char] !== undefined) out += named[char];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0x80 && code < 0xa0) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += char;
  }
  return `${out}"`;
}

/**
 * Walks argv exactly as Go's FlagSet.Parse with ExitOnError does. Each value is checked when set,
 * so the first bad value in order is the one reported, even if a later repeat would be valid.
 */
export function parseGoFlags(args: readonly string[], flags: readonly GoFlag[]): GoFlagResult {
  const byName = new Map(flags.map((flag) => [flag.name, flag]));
  const values = new Map<string, string>();
  const lists = new Map<string, string[]>();
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg.length < 2 || !arg.startsWith('-')) break;
    if (arg === '--') break;
    const dashes = arg.startsWith('--') ? 2 : 1;
    let name = arg.slice(dashes);
    if (name === '' || name.startsWith('-') || name.startsWith('=')) {
      return { kind: 'error', message: `bad flag syntax: ${arg}` };
    }
    const equals = name.indexOf('=', 1);
    const inline = equals >= 0 ? name.slice(equals + 1) : undefined;
    if (equals >= 0) name = name.slice(0, equals);
    const flag = byName.get(name);
    if (flag === undefined) {
      if (name === 'help' || name === 'h') return { kind: 'help' };
      return { kind: 'error', message: `flag provided but not defined: -${name}` };
    }
    let value = inline;
    if (flag.typeName === '') {
      const parsed = parseGoBool(value ?? 'true');
      if (parsed === undefined) {
        return { kind: 'error', message: `invalid boolean value ${goQuote(value ?? '')} for -${name}: parse error` };
      }
      value = String(parsed);
    } else if (value === undefined) {
      // Go takes the next argument whatever it looks like, even "-proto".
      if (index + 1 >= args.length) return { kind: 'error', message: `flag needs an argument: -${name}` };
      index += 1;
      value = args[index] ?? '';
    }
    const reason = flag.check(value);
    if (reason !== undefined) {
      return { kind: 'error', message: `invalid value ${goQuote(value)} for flag -${name}: ${reason}` };
    }
    values.set(name, value);
    if (flag.repeatable === true) lists.set(name, [...(lists.get(name) ?? []), value]);
  }
  return { kind: 'ok', values, lists };
}

/** Go's PrintDefaults layout for a list of flags (sorted by name, as Go sorts them). */
export function formatGoUsage(flags: readonly GoFlag[]): string {
  const sorted = [...flags].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted.map((flag) => {
    let line = `  -${flag.name}`;
    if (flag.typeName !== '') line += ` ${flag.typeName}`;
    line += line.length <= 4 ? '\t' : '\n    \t';
    line += flag.usage.replaceAll('\n', '\n    \t') + flag.defaultText;
    return `${line}\n`;
  }).join('');
}
