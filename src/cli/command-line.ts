// The command line: docker-proxy's flags with Go's syntax (go-flag.ts), our extra options with
// their DOCKER_PROXY_* variables (dockerd passes only its environment), all in one table
// (flags.ts), each value typed once (typing.ts). This file decides what main must do, in Go's
// order of precedence, and builds the ProxyConfig.
import { PROTOS, type Endpoint, type Mapping, type ProxyConfig } from '../config.js';
import { ConfigError, ListenError, ProxyError, UnsupportedProtocolError } from '../errors.js';
import { FLAGS, envName, flagNamed, usageText, type FlagName } from './flags.js';
import { goQuote, scanGoFlags, type Occurrence } from './go-flag.js';
import { assertDistinct } from './publish-spec.js';
import { typeFlags, type Failure, type Given, type Values } from './typing.js';

export { usageText };

/** What main must do with a command line. */
export type CliResult =
  | { readonly action: 'run'; readonly config: ProxyConfig }
  | { readonly action: 'help'; readonly usage: string }
  | { readonly action: 'version' }
  | { readonly action: 'usage-error'; readonly message: string; readonly usage: string }
  | { readonly action: 'fail'; readonly error: ProxyError };

type Env = Readonly<Record<string, string | undefined>>;

const CONFLICT = '-publish/-p and -config replace -proto, -host-ip, -host-port, -container-ip, -container-port and -use-listen-fd; use one or the other';

/** Parses docker-proxy's command line plus our environment variables into what main must do. */
export async function parseCommandLine(args: readonly string[], env: Env, argv0: string): Promise<CliResult> {
  const usageError = (message: string): CliResult => ({ action: 'usage-error', message, usage: usageText(argv0) });
  const scan = scanGoFlags(args, (name) => {
    const flag = flagNamed(name);
    if (flag === undefined) return undefined;
    return FLAGS[flag].goType === '' ? 'bool' : 'value';
  });
  const fromArgv = scan.occurrences.map(toGiven);
  const named = new Set(fromArgv.map((one) => one.flag));
  const single = [...named].some((flag) => FLAGS[flag].group === 'mapping');
  const typed = await typeFlags([...fromArgv, ...fromEnv(env, named, single)]);
  // Go sets (and checks) each value in argv order and stops at the first error of any kind.
  const [badFlag] = typed.failures.filter((failure) => failure.given.from !== 'env').sort((a, b) => position(a) - position(b));
  if (badFlag !== undefined) return usageError(flagError(badFlag));
  if (scan.stop.kind === 'help') return { action: 'help', usage: usageText(argv0) };
  if (scan.stop.kind === 'error') return usageError(scan.stop.message);
  if (single && (named.has('publish') || named.has('config'))) return usageError(CONFLICT);
  const [badEnv] = typed.failures;
  if (badEnv !== undefined) {
    const variable = envName(badEnv.given.flag);
    return { action: 'fail', error: new ConfigError(`invalid value ${goQuote(badEnv.given.text)} for ${variable}: ${badEnv.reason}`) };
  }
  if (typed.values.v === true || typed.values.version === true) return { action: 'version' };
  try {
    return { action: 'run', config: buildConfig(typed.values) };
  } catch (error) {
    if (error instanceof ProxyError) return { action: 'fail', error };
    throw error;
  }
}

const position = (failure: Failure): number => (failure.given.from === 'env' ? Infinity : failure.given.from);

function toGiven(occurrence: Occurrence): Given {
  const flag = flagNamed(occurrence.name);
  // scanGoFlags only returns names it was told are flags.
  if (flag === undefined) throw new Error(`unknown flag ${occurrence.name}`);
  return { flag, text: occurrence.text, from: occurrence.position, spelled: occurrence.name };
}

/** The extras' variables, for the extras not on the command line; an empty variable is unset. */
function fromEnv(env: Env, named: ReadonlySet<FlagName>, single: boolean): Given[] {
  const extras = (Object.keys(FLAGS) as FlagName[]).filter((flag) => FLAGS[flag].group === 'extra' && !named.has(flag));
  return extras.flatMap((flag): Given[] => {
    const text = env[envName(flag)];
    // dockerd passes its environment to every proxy it spawns: a mappings file meant for a
    // hand-run proxy must not turn those into something else.
    if (text === undefined || text === '' || (flag === 'config' && single)) return [];
    return [{ flag, text, from: 'env', spelled: envName(flag) }];
  });
}

/** Go's texts: bools have their own. */
function flagError({ given, reason }: Failure): string {
  if (FLAGS[given.flag].goType === '') return `invalid boolean value ${goQuote(given.text)} for -${given.spelled}: ${reason}`;
  return `invalid value ${goQuote(given.text)} for flag -${given.spelled}: ${reason}`;
}

/** A value every flag with a default has once typed; undefined only for a table without one. */
function required<T>(value: T | undefined, name: FlagName): T {
  if (value === undefined) throw new Error(`flag -${name} has no default`);
  return value;
}

/** docker-proxy's one mapping, from its own flags. */
function singleMapping(values: Values): Mapping {
  const protoText = required(values.proto, 'proto');
  const proto = PROTOS.find((known) => known === protoText);
  if (proto === undefined) throw new UnsupportedProtocolError(protoText);
  const hostIp = required(values['host-ip'], 'host-ip');
  const containerIp = required(values['container-ip'], 'container-ip');
  const frontend: Endpoint = { host: hostIp.address, port: required(values['host-port'], 'host-port'), family: hostIp.family };
  const backend: Endpoint = { host: containerIp.address, port: required(values['container-port'], 'container-port'), family: containerIp.family };
  const useListenFd = required(values['use-listen-fd'], 'use-listen-fd');
  if (!useListenFd && !(frontend.port >= 0 && frontend.port <= 65535)) {
    throw new ListenError(`failed to listen on ${frontend.host}:${frontend.port}: invalid host port (must be 0-65535)`);
  }
  if (!(backend.port >= 1 && backend.port <= 65535)) {
    throw new ConfigError(`invalid container port ${backend.port}: must be 1-65535`);
  }
  return { proto, frontend, backend, useListenFd };
}

function buildConfig(values: Values): ProxyConfig {
  const publish = values.publish ?? [];
  const multi = publish.length > 0 || values.config !== undefined;
  const mappings = multi ? publish : [singleMapping(values)];
  assertDistinct(mappings);
  return {
    mode: multi ? 'multi' : 'single',
    mappings,
    configFile: values.config,
    logLevel: required(values['log-level'], 'log-level'),
    logFile: values['log-file'],
    udp: { idleTimeoutMs: required(values['udp-idle-timeout'], 'udp-idle-timeout'), maxFlows: required(values['udp-max-flows'], 'udp-max-flows') },
    dataPath: required(values['data-path'], 'data-path'),
    metricsAddr: values['metrics-addr'],
    metricsDir: values['metrics-dir'],
    metricsIntervalMs: required(values['metrics-interval'], 'metrics-interval'),
    privileges: { user: required(values.user, 'user'), seccomp: required(values.seccomp, 'seccomp') },
  };
}
