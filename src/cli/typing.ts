// Typing the raw values of the command line and the environment with the flag table: yargs is
// configured from it (types, defaults, coercion by the table's parsers, strictness). dockerd's
// own argv takes a direct path through the same parsers, because loading yargs costs more start-up
// time than the rest of the proxy (bench/startup-memory.ts). So do DOCKER_PROXY_* variables: they
// are how a dockerd-run proxy is configured (dockerd passes its environment), one text each, with
// nothing for yargs to do; only extra options written on the command line go through yargs.
// Every value is parsed exactly once, by its flag's parser. The only file importing yargs.
import { FLAGS, FLAG_NAMES, type FlagName, type FlagSpec, type FlagValue, type Parsed } from './flags.js';

/** One raw value of a flag, from argv (with its position) or from the flag's variable. */
export interface Given {
  readonly flag: FlagName;
  readonly text: string;
  /** argv index, or 'env' for a DOCKER_PROXY_* variable. */
  readonly from: number | 'env';
  /** The name as written (-p or -publish), for messages. */
  readonly spelled: string;
}

/** The first value a parser refused, with its reason. */
export interface Failure {
  readonly given: Given;
  readonly reason: string;
}

export type Values = { readonly [N in FlagName]: FlagValue<N> | undefined };

export interface TypedFlags {
  readonly values: Values;
  /** Per flag, the first refused value (Go checks each value as it is set). */
  readonly failures: readonly Failure[];
}

/** Parses a flag's texts in order; the one function both drivers call. */
function parseAll(spec: FlagSpec<unknown>, texts: readonly string[]): Array<Parsed<unknown>> {
  return texts.map((text) => spec.parse(text));
}

/** Raw texts per flag, in order. */
function byFlag(given: readonly Given[]): Map<FlagName, Given[]> {
  const grouped = new Map<FlagName, Given[]>();
  for (const one of given) grouped.set(one.flag, [...(grouped.get(one.flag) ?? []), one]);
  return grouped;
}

/** Whether a raw value is one dockerd can give: its own flags in argv, or a variable. */
const fromEngine = (one: Given): boolean =>
  one.from === 'env' || FLAGS[one.flag].group === 'mapping' || FLAGS[one.flag].group === 'docker';

/** Types every flag: the direct path for what dockerd gives, yargs for any extra option in argv. */
export async function typeFlags(given: readonly Given[]): Promise<TypedFlags> {
  const grouped = byFlag(given);
  const direct = given.every(fromEngine);
  const parsed = direct ? typeDirectly(grouped) : await typeWithYargs(grouped);
  return fold(grouped, parsed);
}

type ParsedByFlag = ReadonlyMap<FlagName, ReadonlyArray<Parsed<unknown>>>;

/** The direct path: each flag's texts, or its default, through its parser. */
function typeDirectly(grouped: ReadonlyMap<FlagName, readonly Given[]>): ParsedByFlag {
  const texts = (name: FlagName): string[] => {
    const given = grouped.get(name)?.map((one) => one.text);
    const fallback: string | undefined = FLAGS[name].default;
    return given ?? (fallback === undefined ? [] : [fallback]);
  };
  return new Map(FLAG_NAMES.map((name) => [name, parseAll(FLAGS[name], texts(name))]));
}

/** yargs, configured from the table, fed the raw texts as a configuration object (no re-serialised argv). */
async function typeWithYargs(grouped: ReadonlyMap<FlagName, readonly Given[]>): Promise<ParsedByFlag> {
  const { default: yargs } = await import('yargs');
  const options = Object.fromEntries(FLAG_NAMES.map((name) => {
    const spec: FlagSpec<unknown> = FLAGS[name];
    return [name, {
      type: 'string' as const, array: true as const,
      ...(spec.default === undefined ? {} : { default: [spec.default] }),
      // The table's parser; it never throws, failures come back as values for fold() to report.
      coerce: (texts: string[]) => parseAll(spec, texts),
    }];
  }));
  const argv = yargs([])
    .version(false).help(false).strict().exitProcess(false)
    .parserConfiguration({ 'camel-case-expansion': false, 'dot-notation': false, 'parse-numbers': false, 'parse-positional-numbers': false })
    .options(options)
    .config(Object.fromEntries([...grouped].map(([name, given]) => [name, given.map((one) => one.text)])))
    .fail((message: string, error: Error | undefined) => {
      throw error ?? new Error(message);
    })
    .parseSync();
  return new Map(FLAG_NAMES.map((name): [FlagName, Array<Parsed<unknown>>] => {
    const value: unknown = Reflect.get(argv, name);
    return [name, Array.isArray(value) ? value.filter(isParsed) : []];
  }));
}

function isParsed(value: unknown): value is Parsed<unknown> {
  return typeof value === 'object' && value !== null && ('value' in value || 'reason' in value);
}

/** The last value wins, except for -publish (all count); the first refusal per flag is kept. */
function fold(grouped: ReadonlyMap<FlagName, readonly Given[]>, parsed: ParsedByFlag): TypedFlags {
  const values: Record<string, unknown> = {};
  const failures: Failure[] = [];
  for (const name of FLAG_NAMES) {
    const results = parsed.get(name) ?? [];
    const refused = results.findIndex((result) => 'reason' in result);
    const given = grouped.get(name)?.[refused];
    const result = results[refused];
    if (given !== undefined && result !== undefined && 'reason' in result) failures.push({ given, reason: result.reason });
    const accepted = results.flatMap((one) => ('value' in one ? [one.value] : []));
    values[name] = FLAGS[name].group === 'publish' ? accepted.flat() : accepted.at(-1);
  }
  return { values: values as Values, failures };
}
