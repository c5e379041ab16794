// The command line: docker-proxy's flags with Go flag semantics (go-flag.ts, tables in
// cli-flags.ts), our extra options (each with a DOCKER_PROXY_* environment variable, because
// dockerd passes only its environment), typed by yargs, validated here once. The only file
// importing yargs.
import {
  DATA_PATHS, LOG_LEVELS, METRICS_INTERVAL_MS_DEFAULT, PROTOS, UDP_CONNTRACK_TIMEOUT_MS, UDP_MAX_FLOWS_DEFAULT,
  parseDurationMs, parseHostPort, parseIp, type Endpoint, type LogLevel, type Mapping, type Proto, type ProxyConfig,
} from './config.js';
import { DOCKER_FLAGS, EXTRA_FLAGS, MAPPING_FLAGS, PUBLISH_FLAGS, envName, usageText } from './cli-flags.js';
import { ConfigError, ListenError, ProxyError, UnsupportedProtocolError } from './errors.js';
import { goQuote, parseGoFlags, parseGoInt } from './go-flag.js';
import { assertDistinct, parsePublishSpec } from './mapping-spec.js';

export { DOCKER_FLAGS, envName, usageText };

/** What main must do with a command line. */
export type CliResult =
  | { readonly action: 'run'; readonly config: ProxyConfig }
  | { readonly action: 'help'; readonly usage: string }
  | { readonly action: 'version' }
  | { readonly action: 'usage-error'; readonly message: string; readonly usage: string }
  | { readonly action: 'fail'; readonly error: ProxyError };

type Env = Readonly<Record<string, string | undefined>>;

/** Parses docker-proxy's command line plus our environment variables into what main must do. */
export async function parseCommandLine(args: readonly string[], env: Env, argv0: string): Promise<CliResult> {
  const parsed = parseGoFlags(args, [...DOCKER_FLAGS, ...EXTRA_FLAGS, ...PUBLISH_FLAGS]);
  if (parsed.kind === 'help') return { action: 'help', usage: usageText(argv0) };
  if (parsed.kind === 'error') return { action: 'usage-error', message: parsed.message, usage: usageText(argv0) };
  const values = new Map(parsed.values);
  const singleMapping = MAPPING_FLAGS.some((name) => values.has(name));
  const publish = [...(parsed.lists.get('p') ?? []), ...(parsed.lists.get('publish') ?? [])];
  if (singleMapping && (publish.length > 0 || values.has('config'))) {
    const message = '-publish/-p and -config replace -proto, -host-ip, -host-port, -container-ip, -container-port and -use-listen-fd; use one or the other';
    return { action: 'usage-error', message, usage: usageText(argv0) };
  }
  for (const flag of EXTRA_FLAGS) {
    const fromEnv = env[envName(flag.name)];
    if (values.has(flag.name) || fromEnv === undefined || fromEnv === '') continue;
    // dockerd passes its environment to every proxy it spawns: a mappings file meant for a
    // hand-run proxy must not turn those into something else.
    if (flag.name === 'config' && singleMapping) continue;
    const reason = flag.check(fromEnv);
    if (reason !== undefined) {
      return { action: 'fail', error: new ConfigError(`invalid value ${goQuote(fromEnv)} for ${envName(flag.name)}: ${reason}`) };
    }
    values.set(flag.name, fromEnv);
  }
  // dockerd's own argv, with no extra option set, is typed directly: loading and running yargs
  // costs more start-up time than the rest of the proxy (bench/startup-memory.ts). Everything else
  // goes through yargs; test/unit/cli.test.ts checks that both give the same result.
  values.delete('p');
  values.delete('publish');
  const typed = [...values.keys()].every(isEngineFlag) && publish.length === 0
    ? typeEngineFlags(values)
    : await typeWithYargs(values, publish);
  if (typed.v || typed.version) return { action: 'version' };
  try {
    return { action: 'run', config: buildConfig(typed) };
  } catch (error) {
    if (error instanceof ProxyError) return { action: 'fail', error };
    throw error;
  }
}

const toInt = (value: string): number => {
  const parsed = parseGoInt(value);
  return typeof parsed === 'bigint' ? Number(parsed) : Number.NaN;
};

/** Turns the Go-validated `name → last value` map into typed options with yargs. */
export async function typeWithYargs(values: ReadonlyMap<string, string>, publish: readonly string[] = []): Promise<Typed> {
  const { default: yargs } = await import('yargs');
  const tokens = [...[...values].map(([name, value]) => `--${name}=${value}`), ...publish.map((spec) => `--publish=${spec}`)];
  const argv = yargs(tokens)
    .version(false).help(false).strict().exitProcess(false)
    .parserConfiguration({
      'short-option-groups': false, 'camel-case-expansion': false, 'dot-notation': false, 'parse-numbers': false,
      // Each flag arrives once (the Go layer kept the last value), except -publish: keep them all.
      'parse-positional-numbers': false, 'boolean-negation': false, 'duplicate-arguments-array': true,
    })
    .fail((message: string, error: Error | undefined) => {
      throw error ?? new ConfigError(message);
    })
    .options({
      proto: { type: 'string', default: 'tcp' },
      'host-ip': { type: 'string', default: '0.0.0.0' },
      'host-port': { type: 'string', default: '-1', coerce: toInt },
      'container-ip': { type: 'string', default: '0.0.0.0' },
      'container-port': { type: 'string', default: '-1', coerce: toInt },
      'use-listen-fd': { type: 'boolean', default: false },
      v: { type: 'boolean', default: false },
      version: { type: 'boolean', default: false },
      'data-path': { type: 'string', default: 'auto' },
      publish: { type: 'string', array: true, default: [] },
      config: { type: 'string' },
      'log-file': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'udp-idle-timeout': { type: 'string', default: `${UDP_CONNTRACK_TIMEOUT_MS}ms`, coerce: parseDurationMs },
      'udp-max-flows': { type: 'string', default: String(UDP_MAX_FLOWS_DEFAULT), coerce: toInt },
      'metrics-addr': { type: 'string', coerce: (value: string | undefined) => (value === undefined ? undefined : parseHostPort(value)) },
      'metrics-dir': { type: 'string' },
      'metrics-interval': { type: 'string', default: `${METRICS_INTERVAL_MS_DEFAULT}ms`, coerce: parseDurationMs },
    })
    .parseSync();
  return {
    proto: argv.proto, 'host-ip': argv['host-ip'], 'host-port': argv['host-port'], 'container-ip': argv['container-ip'],
    'container-port': argv['container-port'], 'use-listen-fd': argv['use-listen-fd'], v: argv.v, version: argv.version,
    publish: argv.publish, config: argv.config, 'data-path': argv['data-path'], 'log-file': argv['log-file'], 'log-level': argv['log-level'],
    'udp-idle-timeout': argv['udp-idle-timeout'], 'udp-max-flows': argv['udp-max-flows'], 'metrics-addr': argv['metrics-addr'],
    'metrics-dir': argv['metrics-dir'], 'metrics-interval': argv['metrics-interval'],
  };
}

/** Every option, typed, with its default. */
export interface Typed {
  readonly proto: string;
  readonly 'host-ip': string;
  readonly 'host-port': number;
  readonly 'container-ip': string;
  readonly 'container-port': number;
  readonly 'use-listen-fd': boolean;
  readonly v: boolean;
  readonly version: boolean;
  readonly publish: readonly string[];
  readonly config: string | undefined;
  readonly 'data-path': string;
  readonly 'log-file': string | undefined;
  readonly 'log-level': string;
  readonly 'udp-idle-timeout': number | undefined;
  readonly 'udp-max-flows': number;
  readonly 'metrics-addr': Endpoint | undefined;
  readonly 'metrics-dir': string | undefined;
  readonly 'metrics-interval': number | undefined;
}

const ENGINE_FLAG_NAMES = new Set(DOCKER_FLAGS.map((flag) => flag.name));
const isEngineFlag = (name: string): boolean => ENGINE_FLAG_NAMES.has(name);

/** Types docker-proxy's own flags without yargs; extras keep their defaults. */
export function typeEngineFlags(values: ReadonlyMap<string, string>): Typed {
  const text = (name: string, fallback: string): string => values.get(name) ?? fallback;
  const flag = (name: string): boolean => values.get(name) === 'true';
  return {
    proto: text('proto', 'tcp'),
    'host-ip': text('host-ip', '0.0.0.0'),
    'host-port': toInt(text('host-port', '-1')),
    'container-ip': text('container-ip', '0.0.0.0'),
    'container-port': toInt(text('container-port', '-1')),
    'use-listen-fd': flag('use-listen-fd'),
    v: flag('v'),
    version: flag('version'),
    publish: [],
    config: undefined,
    'data-path': 'auto',
    'log-file': undefined,
    'log-level': 'info',
    'udp-idle-timeout': UDP_CONNTRACK_TIMEOUT_MS,
    'udp-max-flows': UDP_MAX_FLOWS_DEFAULT,
    'metrics-addr': undefined,
    'metrics-dir': undefined,
    'metrics-interval': METRICS_INTERVAL_MS_DEFAULT,
  };
}

function endpoint(ipText: string, port: number): Endpoint {
  // Go's nil IP (an empty -host-ip) counts as IPv6, and binds or dials the unspecified address.
  const ip = ipText === '' ? { address: '::', family: 6 as const } : parseIp(ipText);
  if (ip === undefined) throw new ConfigError(`invalid IP address: ${ipText}`);
  return { host: ip.address, port, family: ip.family };
}

/** docker-proxy's one mapping, from its own flags. */
function singleMapping(typed: Typed): Mapping {
  const proto = PROTOS.find((known) => known === typed.proto);
  if (proto === undefined) throw new UnsupportedProtocolError(typed.proto);
  const frontend = endpoint(typed['host-ip'], typed['host-port']);
  const backend = endpoint(typed['container-ip'], typed['container-port']);
  const useListenFd = typed['use-listen-fd'];
  if (!useListenFd && !(frontend.port >= 0 && frontend.port <= 65535)) {
    throw new ListenError(`failed to listen on ${frontend.host}:${frontend.port}: invalid host port (must be 0-65535)`);
  }
  if (!(backend.port >= 1 && backend.port <= 65535)) {
    throw new ConfigError(`invalid container port ${backend.port}: must be 1-65535`);
  }
  return { proto: proto satisfies Proto, frontend, backend, useListenFd };
}

function buildConfig(typed: Typed): ProxyConfig {
  const multi = typed.publish.length > 0 || typed.config !== undefined;
  const mappings = multi ? typed.publish.flatMap(parsePublishSpec) : [singleMapping(typed)];
  assertDistinct(mappings);
  return {
    mode: multi ? 'multi' : 'single',
    mappings,
    configFile: typed.config,
    logLevel: LOG_LEVELS.find((level) => level === typed['log-level']) ?? ('info' satisfies LogLevel),
    logFile: typed['log-file'],
    udpIdleTimeoutMs: typed['udp-idle-timeout'] ?? UDP_CONNTRACK_TIMEOUT_MS,
    udpMaxFlows: typed['udp-max-flows'],
    dataPath: DATA_PATHS.find((path) => path === typed['data-path']) ?? 'auto',
    metricsAddr: typed['metrics-addr'],
    metricsDir: typed['metrics-dir'],
    metricsIntervalMs: typed['metrics-interval'] ?? METRICS_INTERVAL_MS_DEFAULT,
  };
}
