// The one flag table: for every option its name, Go type word, usage line, default (as text, typed
// like any value), value parser and, for our extras, its DOCKER_PROXY_* variable. The Go syntax
// layer (go-flag.ts), the typing (typing.ts, yargs configured from here) and the usage text all
// read it; nothing else names a default or parses a value.
import { LOG_LEVELS, MAX_TIMER_MS, parseDurationMs, parseHostPort, parseIp, type DataPathChoice, type Endpoint, type Family, type LogLevel, type Mapping, type UserSpec } from '../config.js';
import { DATA_PATH_WORDS } from '../config.js';
import { describeError } from '../errors.js';
import { formatGoUsage, goQuote, parseGoBool, parseGoInt, type UsageEntry } from './go-flag.js';
import { parsePublishSpec } from './publish-spec.js';

/** A typed value, or Go's reason text (after "invalid value ... for flag -x: "). */
export type Parsed<T> = { readonly value: T } | { readonly reason: string };

/**
 * Which part of the command line a flag belongs to: docker-proxy's one mapping, docker-proxy's
 * other flags (-v), our extras (each with an environment variable), or the repeatable -publish.
 */
export type FlagGroup = 'mapping' | 'docker' | 'extra' | 'publish';

export interface FlagSpec<T> {
  readonly group: FlagGroup;
  /** Go's type word in the usage: 'string', 'int', 'value'; '' is a bool. */
  readonly goType: 'string' | 'int' | 'value' | '';
  readonly usage: string;
  /** The value when not given, as the user would write it; parsed like any other value. */
  readonly default?: string;
  readonly parse: (text: string) => Parsed<T>;
  /** Other names of the same flag (-p for -publish). */
  readonly aliases?: readonly string[];
}

const flag = <T>(spec: FlagSpec<T>): FlagSpec<T> => spec;
const ok = <T>(value: T): Parsed<T> => ({ value });

const goBool = (text: string): Parsed<boolean> => {
  const value = parseGoBool(text);
  return value === undefined ? { reason: 'parse error' } : ok(value);
};
const goInt = (text: string): Parsed<number> => {
  const value = parseGoInt(text);
  return typeof value === 'bigint' ? ok(Number(value)) : { reason: value };
};
/** docker-proxy's IP flags; an empty one is Go's nil IP, which binds or dials the IPv6 unspecified address. */
const goIp = (text: string): Parsed<{ readonly address: string; readonly family: Family }> => {
  if (text === '') return ok({ address: '::', family: 6 });
  const ip = parseIp(text);
  return ip === undefined ? { reason: `invalid IP address: ${text}` } : ok(ip);
};
const oneOf = <T extends string>(words: readonly T[]) => (text: string): Parsed<T> => {
  const word = words.find((known) => known === text);
  return word === undefined ? { reason: `must be one of ${words.join(', ')}` } : ok(word);
};
const duration = (text: string): Parsed<number> => {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 1) return { reason: 'must be a duration such as 90s, 1m30s or 500ms (at least 1ms)' };
  // Node fires longer timers after 1 ms: an idle proxy would spin.
  return ms <= MAX_TIMER_MS ? ok(ms) : { reason: 'must be at most 596h (a Node timer limit)' };
};
const path = (text: string): Parsed<string> => (text === '' ? { reason: 'must not be empty' } : ok(text));
const address = (text: string): Parsed<Endpoint> => {
  const endpoint = parseHostPort(text);
  return endpoint === undefined ? { reason: 'must be IP:PORT, for example 127.0.0.1:9323 or [::1]:9323' } : ok(endpoint);
};
const FLOW_LIMIT = 1_000_000;
const flowLimit = (text: string): Parsed<number> => {
  const parsed = goInt(text);
  if ('reason' in parsed) return parsed;
  return parsed.value >= 1 && parsed.value <= FLOW_LIMIT ? parsed : { reason: `must be 1-${FLOW_LIMIT}` };
};
const dataPath = (text: string): Parsed<DataPathChoice> => {
  const path = Object.hasOwn(DATA_PATH_WORDS, text) ? DATA_PATH_WORDS[text] : undefined;
  return path === undefined ? { reason: 'must be one of auto, native, js (or splice, stream: the older names of native, js)' } : ok({ path, spelled: text });
};
/** NAME, UID, NAME:GROUP or UID:GID; the names are looked up at start-up (src/privileges/). */
const NAME = /^(?:[0-9]+|[A-Za-z_][A-Za-z0-9_.-]*\$?)$/;
const userSpec = (text: string): Parsed<UserSpec> => {
  const [user = '', group, ...rest] = text.split(':');
  if (rest.length > 0 || !NAME.test(user) || (group !== undefined && !NAME.test(group))) {
    return { reason: 'must be USER or USER:GROUP, each a name or a number (for example nobody, 65534:65534, root)' };
  }
  return ok({ user, group });
};
const publishSpec = (text: string): Parsed<Mapping[]> => {
  try {
    return ok(parsePublishSpec(text));
  } catch (error) {
    return { reason: describeError(error) };
  }
};

/** Every flag; docker-proxy's own exactly as the newest docker-proxy defines them (docs/design/engine-contract.md). */
export const FLAGS = {
  'container-ip': flag({ group: 'mapping', goType: 'value', usage: 'container ip', default: '0.0.0.0', parse: goIp }),
  'container-port': flag({ group: 'mapping', goType: 'int', usage: 'container port', default: '-1', parse: goInt }),
  'host-ip': flag({ group: 'mapping', goType: 'value', usage: 'host ip', default: '0.0.0.0', parse: goIp }),
  'host-port': flag({ group: 'mapping', goType: 'int', usage: 'host port', default: '-1', parse: goInt }),
  proto: flag({ group: 'mapping', goType: 'string', usage: 'proxy protocol', default: 'tcp', parse: ok }),
  'use-listen-fd': flag({ group: 'mapping', goType: '', usage: 'use a supplied listen fd', default: 'false', parse: goBool }),
  v: flag({ group: 'docker', goType: '', usage: 'print version information and quit', default: 'false', parse: goBool }),
  version: flag({ group: 'docker', goType: '', usage: 'print version information and quit', default: 'false', parse: goBool }),

  config: flag({ group: 'extra', goType: 'string', usage: 'serve the mappings of this JSON file ({"mappings": [SPEC, ...]}); SIGHUP re-reads it', parse: path }),
  'data-path': flag({
    group: 'extra', goType: 'string', default: 'auto', parse: dataPath,
    usage: 'native (the addons: splice(2) for TCP, recvmmsg/sendmmsg with IP_PKTINFO for UDP), js (pure JS), or auto (native where it loads); splice and stream are accepted for native and js',
  }),
  'log-file': flag({ group: 'extra', goType: 'string', usage: 'also append JSON logs to this file (dockerd discards stderr)', parse: path }),
  'metrics-addr': flag({ group: 'extra', goType: 'string', usage: 'serve Prometheus metrics on GET /metrics (and GET /healthz) at IP:PORT; use loopback', parse: address }),
  'metrics-dir': flag({ group: 'extra', goType: 'string', usage: 'write metrics to DIR/<proto>_<host-ip>_<host-port>.prom (node_exporter textfile collector)', parse: path }),
  'metrics-interval': flag({ group: 'extra', goType: 'string', usage: 'how often to rewrite the metrics file', default: '5s', parse: duration }),
  'log-level': flag({ group: 'extra', goType: 'string', usage: `log level: ${LOG_LEVELS.join(', ')}`, default: 'info', parse: oneOf<LogLevel>(LOG_LEVELS) }),
  // docker-proxy's DefaultConnTrackTimeout.
  'udp-idle-timeout': flag({ group: 'extra', goType: 'string', usage: 'forget a UDP flow after this long without traffic either way', default: '90s', parse: duration }),
  // Bounds memory and descriptors under a flood of new source ports (docker-proxy has no bound).
  'udp-max-flows': flag({ group: 'extra', goType: 'int', usage: 'most UDP flows at once; the least recently used is evicted beyond it', default: '4096', parse: flowLimit }),

  // After start-up: every socket, the log file and the metrics endpoint are open by then.
  user: flag({
    group: 'extra', goType: 'string', default: 'nobody', parse: userSpec,
    usage: 'once started, run as this USER[:GROUP] keeping only the capabilities the configuration needs; root keeps them all',
  }),
  seccomp: flag({ group: 'extra', goType: '', default: 'true', parse: goBool, usage: 'once started, refuse the system calls a proxy never makes (execve, ptrace, mount, bpf, ...); -seccomp=false for debugging' }),

  publish: flag({
    group: 'publish', goType: 'string', aliases: ['p'], parse: publishSpec,
    usage: 'serve a mapping: [HOST_IP:]HOST_PORT[-END]:CONTAINER_IP:CONTAINER_PORT[-END][/tcp|/udp] (repeatable)',
  }),
} as const;

export type FlagName = keyof typeof FLAGS;
/** What a flag's parser produces: FlagValue<'udp-max-flows'> is number. */
export type FlagValue<N extends FlagName> = (typeof FLAGS)[N] extends FlagSpec<infer T> ? T : never;

export const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];
const BY_NAME = new Map<string, FlagName>(FLAG_NAMES.flatMap((name) => [name, ...(FLAGS[name].aliases ?? [])].map((key) => [key, name] as const)));

/** The flag a name or alias stands for. */
export function flagNamed(name: string): FlagName | undefined {
  return BY_NAME.get(name);
}

/** The environment variable of an extra option: --udp-max-flows → DOCKER_PROXY_UDP_MAX_FLOWS. */
export function envName(name: FlagName): string {
  return `DOCKER_PROXY_${name.toUpperCase().replaceAll('-', '_')}`;
}

/** Go's isZeroValue: the zero value's default is not printed. */
const ZERO_TEXT: Readonly<Record<FlagSpec<unknown>['goType'], string>> = { '': 'false', int: '0', string: '', value: '' };

function usageEntry(name: FlagName, usage: string = FLAGS[name].usage): UsageEntry {
  const spec: FlagSpec<unknown> = FLAGS[name];
  const shown = spec.default !== undefined && spec.default !== ZERO_TEXT[spec.goType];
  const value = spec.goType === 'string' ? goQuote(spec.default ?? '') : spec.default;
  return { name, goType: spec.goType, usage, defaultText: shown ? ` (default ${value})` : '' };
}

const inGroup = (...groups: FlagGroup[]): FlagName[] => FLAG_NAMES.filter((name) => groups.includes(FLAGS[name].group));

/** Go's usage text for docker-proxy's flags, then ours with their environment variables. */
export function usageText(argv0: string): string {
  const extras = inGroup('extra').map((name) => usageEntry(name, `${FLAGS[name].usage} [$${envName(name)}]`));
  return `Usage of ${argv0}:\n${formatGoUsage(inGroup('mapping', 'docker').map((name) => usageEntry(name)))}\n`
    + `Options beyond docker-proxy's (each also read from the environment variable shown; a flag wins):\n`
    + formatGoUsage(extras)
    + `\nMany mappings in one process (instead of -proto, -host-ip, -host-port, -container-ip, -container-port):\n`
    + formatGoUsage([usageEntry('publish')])
    + '  -p SPEC\n    \tsame as -publish\n';
}
