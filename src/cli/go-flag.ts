// Go's `flag` package syntax, which docker-proxy's command line has and dockerd relies on: one or
// two dashes, -f=v and -f v (not for bools), parsing stops at the first positional argument, Go's
// error texts, value parsers and usage layout. What the flags are is flags.ts; the typing of the
// values (yargs, from that table) is typing.ts.

/** What the scanner needs to know of a flag: whether it is a bool (never takes the next argument). */
export type FlagKind = 'bool' | 'value';

/** One flag as the user gave it: `text` is raw, to be typed by the flag table (flags.ts). */
export interface Occurrence {
  /** The flag's name as written, without dashes (-p and -publish stay apart, for messages). */
  readonly name: string;
  /** The value; for a bool, the text after '=' or "true" when there is none. */
  readonly text: string;
  /** Index in argv: Go reports the first bad value, so failures are ordered by it. */
  readonly position: number;
}

/** Why scanning ended: the end of the flags, -h/-help, or a syntax error (Go's exact text). */
export type ScanStop =
  | { readonly kind: 'end' }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export interface Scan {
  /** Every flag before the stop, in order; repeats included (the table decides who wins). */
  readonly occurrences: readonly Occurrence[];
  readonly stop: ScanStop;
}

/** One usage entry in Go's PrintDefaults layout. */
export interface UsageEntry {
  readonly name: string;
  /** Go's type word: 'string', 'int', 'value', or '' for bool flags. */
  readonly goType: string;
  readonly usage: string;
  /** The " (default X)" part as Go formats it, or ''. */
  readonly defaultText: string;
}

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
 * Walks argv as Go's FlagSet.Parse does, for the syntax only: one or two dashes, -f=v and -f v
 * (bools only -f or -f=v), stop at the first positional argument or "--". Values are not typed
 * here: Go checks each one as it is set, and flags.ts does that from the positions kept.
 */
export function scanGoFlags(args: readonly string[], kindOf: (name: string) => FlagKind | undefined): Scan {
  const occurrences: Occurrence[] = [];
  const stopped = (stop: ScanStop): Scan => ({ occurrences, stop });
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg.length < 2 || !arg.startsWith('-') || arg === '--') break;
    let name = arg.slice(arg.startsWith('--') ? 2 : 1);
    if (name === '' || name.startsWith('-') || name.startsWith('=')) return stopped({ kind: 'error', message: `bad flag syntax: ${arg}` });
    const equals = name.indexOf('=', 1);
    const inline = equals >= 0 ? name.slice(equals + 1) : undefined;
    if (equals >= 0) name = name.slice(0, equals);
    const kind = kindOf(name);
    if (kind === undefined) {
      if (name === 'help' || name === 'h') return stopped({ kind: 'help' });
      return stopped({ kind: 'error', message: `flag provided but not defined: -${name}` });
    }
    const position = index;
    if (kind === 'bool' || inline !== undefined) {
      occurrences.push({ name, text: inline ?? 'true', position });
      continue;
    }
    // Go takes the next argument whatever it looks like, even "-proto".
    if (index + 1 >= args.length) return stopped({ kind: 'error', message: `flag needs an argument: -${name}` });
    index += 1;
    occurrences.push({ name, text: args[index] ?? '', position });
  }
  return stopped({ kind: 'end' });
}

/** Go's PrintDefaults layout for a list of flags (sorted by name, as Go sorts them). */
export function formatGoUsage(flags: readonly UsageEntry[]): string {
  const sorted = [...flags].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted.map((flag) => {
    let line = `  -${flag.name}`;
    if (flag.goType !== '') line += ` ${flag.goType}`;
    line += line.length <= 4 ? '\t' : '\n    \t';
    line += flag.usage.replaceAll('\n', '\n    \t') + flag.defaultText;
    return `${line}\n`;
  }).join('');
}
