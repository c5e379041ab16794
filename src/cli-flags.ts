// The flag tables of the command line: docker-proxy's own flags exactly as Go's flag package
// prints and checks them, our extra options with their DOCKER_PROXY_* variables, and -p. Each
// check returns Go's reason text for a bad value; cli.ts applies them.
import {
  DATA_PATHS, LOG_LEVELS, MAX_TIMER_MS, METRICS_INTERVAL_MS_DEFAULT, UDP_MAX_FLOWS_DEFAULT, UDP_MAX_FLOWS_LIMIT,
  parseDurationMs, parseHostPort, parseIp,
} from './config.js';
import { describeError } from './errors.js';
import { formatGoUsage, parseGoInt, type GoFlag } from './go-flag.js';
import { parsePublishSpec } from './mapping-spec.js';

const checkInt = (value: string): string | undefined => {
  const parsed = parseGoInt(value);
  return typeof parsed === 'bigint' ? undefined : parsed;
};
const checkIp = (value: string): string | undefined =>
  value === '' || parseIp(value) !== undefined ? undefined : `invalid IP address: ${value}`;
const checkNothing = (): undefined => undefined;

/** docker-proxy's own flags, as the newest docker-proxy defines them (spec §1.1). */
export const DOCKER_FLAGS: readonly GoFlag[] = [
  { name: 'container-ip', typeName: 'value', usage: 'container ip', defaultText: ' (default 0.0.0.0)', check: checkIp },
  { name: 'container-port', typeName: 'int', usage: 'container port', defaultText: ' (default -1)', check: checkInt },
  { name: 'host-ip', typeName: 'value', usage: 'host ip', defaultText: ' (default 0.0.0.0)', check: checkIp },
  { name: 'host-port', typeName: 'int', usage: 'host port', defaultText: ' (default -1)', check: checkInt },
  { name: 'proto', typeName: 'string', usage: 'proxy protocol', defaultText: ' (default "tcp")', check: checkNothing },
  { name: 'use-listen-fd', typeName: '', usage: 'use a supplied listen fd', defaultText: '', check: checkNothing },
  { name: 'v', typeName: '', usage: 'print version information and quit', defaultText: '', check: checkNothing },
  { name: 'version', typeName: '', usage: 'print version information and quit', defaultText: '', check: checkNothing },
];

const checkDataPath = (value: string): string | undefined =>
  (DATA_PATHS as readonly string[]).includes(value) ? undefined : `must be one of ${DATA_PATHS.join(', ')}`;
const checkLogLevel = (value: string): string | undefined =>
  (LOG_LEVELS as readonly string[]).includes(value) ? undefined : `must be one of ${LOG_LEVELS.join(', ')}`;
const checkDuration = (value: string): string | undefined => {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < 1) return 'must be a duration such as 90s, 1m30s or 500ms (at least 1ms)';
  // Node fires longer timers after 1 ms: an idle proxy would spin.
  return ms <= MAX_TIMER_MS ? undefined : 'must be at most 596h (a Node timer limit)';
};
const checkFlowLimit = (value: string): string | undefined => {
  const parsed = parseGoInt(value);
  if (typeof parsed !== 'bigint') return parsed;
  return parsed >= 1n && parsed <= BigInt(UDP_MAX_FLOWS_LIMIT) ? undefined : `must be 1-${UDP_MAX_FLOWS_LIMIT}`;
};
const checkPath = (value: string): string | undefined => (value === '' ? 'must not be empty' : undefined);
const checkSpec = (value: string): string | undefined => {
  try {
    parsePublishSpec(value);
    return undefined;
  } catch (error) {
    return describeError(error);
  }
};
const checkAddr = (value: string): string | undefined =>
  parseHostPort(value) !== undefined ? undefined : 'must be IP:PORT, for example 127.0.0.1:9323 or [::1]:9323';

/** Options beyond docker-proxy's; each also has an environment variable named by envName(). */
export const EXTRA_FLAGS: readonly GoFlag[] = [
  { name: 'config', typeName: 'string', usage: 'serve the mappings of this JSON file ({"mappings": [SPEC, ...]}); SIGHUP re-reads it', defaultText: '', check: checkPath },
  { name: 'data-path', typeName: 'string', usage: `${DATA_PATHS.join(', ')}: splice uses the native addon (splice(2) for TCP, recvmmsg/sendmmsg with IP_PKTINFO for UDP), stream pure JS, auto native where it loads`, defaultText: ' (default "auto")', check: checkDataPath },
  { name: 'log-file', typeName: 'string', usage: 'also append JSON logs to this file (dockerd discards stderr)', defaultText: '', check: checkPath },
  { name: 'metrics-addr', typeName: 'string', usage: 'serve Prometheus metrics on GET /metrics (and GET /healthz) at IP:PORT; use loopback', defaultText: '', check: checkAddr },
  { name: 'metrics-dir', typeName: 'string', usage: 'write metrics to DIR/<proto>_<host-ip>_<host-port>.prom (node_exporter textfile collector)', defaultText: '', check: checkPath },
  { name: 'metrics-interval', typeName: 'string', usage: 'how often to rewrite the metrics file', defaultText: ` (default "${METRICS_INTERVAL_MS_DEFAULT / 1000}s")`, check: checkDuration },
  { name: 'log-level', typeName: 'string', usage: `log level: ${LOG_LEVELS.join(', ')}`, defaultText: ' (default "info")', check: checkLogLevel },
  { name: 'udp-idle-timeout', typeName: 'string', usage: 'forget a UDP flow after this long without traffic either way', defaultText: ' (default "90s")', check: checkDuration },
  { name: 'udp-max-flows', typeName: 'int', usage: 'most UDP flows at once; the least recently used is evicted beyond it', defaultText: ` (default ${UDP_MAX_FLOWS_DEFAULT})`, check: checkFlowLimit },
];

/** Many mappings in one process; repeatable, and without an environment variable. */
export const PUBLISH_FLAGS: readonly GoFlag[] = ['p', 'publish'].map((name) => ({
  name, typeName: 'string', usage: 'serve a mapping: [HOST_IP:]HOST_PORT[-END]:CONTAINER_IP:CONTAINER_PORT[-END][/tcp|/udp] (repeatable)',
  defaultText: '', check: checkSpec, repeatable: true,
}));

/** The flags that describe docker-proxy's one mapping; -p and --config replace them. */
export const MAPPING_FLAGS = ['proto', 'host-ip', 'host-port', 'container-ip', 'container-port', 'use-listen-fd'];

/** The environment variable of an extra option: --udp-max-flows → DOCKER_PROXY_UDP_MAX_FLOWS. */
export function envName(flagName: string): string {
  return `DOCKER_PROXY_${flagName.toUpperCase().replaceAll('-', '_')}`;
}

/** Go's usage text for docker-proxy's flags, then ours with their environment variables. */
export function usageText(argv0: string): string {
  const extras = EXTRA_FLAGS.map((flag) => ({ ...flag, usage: `${flag.usage} [$${envName(flag.name)}]` }));
  return `Usage of ${argv0}:\n${formatGoUsage(DOCKER_FLAGS)}\n`
    + `Options beyond docker-proxy's (each also read from the environment variable shown; a flag wins):\n`
    + formatGoUsage(extras)
    + `\nMany mappings in one process (instead of -proto, -host-ip, -host-port, -container-ip, -container-port):\n`
    + formatGoUsage(PUBLISH_FLAGS.filter((flag) => flag.name === 'publish'))
    + '  -p SPEC\n    \tsame as -publish\n';
}
