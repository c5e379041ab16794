// Types, limits and pure value parsers shared by the CLI and the proxies. Imports nothing from src/.
import { isIPv4, isIPv6 } from 'node:net';

/** The protocols this proxy forwards. docker-proxy also has sctp; Node has no kernel SCTP sockets. */
export type Proto = 'tcp' | 'udp';
export const PROTOS: readonly Proto[] = ['tcp', 'udp'];

/** Address family, picked from the host IP exactly as docker-proxy does (IPv4 if it has a 4-byte form). */
export type Family = 4 | 6;

/** An address and port, with the family the socket for it must have. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly family: Family;
}

/** One forwarding: host side (frontend) to container side (backend). */
export interface Mapping {
  readonly proto: Proto;
  readonly frontend: Endpoint;
  readonly backend: Endpoint;
  /** Adopt the socket the engine passed on fd 4 instead of binding frontend.host:port. */
  readonly useListenFd: boolean;
}

/**
 * How bytes move, for TCP and UDP alike: the native addons, the JS paths, or native wherever it
 * loads. `spelled` is the word the user wrote (the old names splice and stream are accepted as
 * native and js), so that an error names the value as it was given.
 */
export interface DataPathChoice {
  readonly path: 'native' | 'js' | 'auto';
  readonly spelled: string;
}
export const DATA_PATH_WORDS: Readonly<Record<string, DataPathChoice['path']>> = {
  auto: 'auto', native: 'native', js: 'js', splice: 'native', stream: 'js',
};

/**
 * Whom to run as after start-up (--user): a name or a number, and optionally a group the same way.
 * 'root' (or 0) keeps the start-up identity and capabilities.
 */
export interface UserSpec {
  readonly user: string;
  readonly group: string | undefined;
}

/** What the process gives up once every socket is open (src/privileges/). */
export interface PrivilegeSettings {
  readonly user: UserSpec;
  /** Install the seccomp filter (off only for debugging). */
  readonly seccomp: boolean;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Everything a running proxy needs, validated once at the edge (src/cli/) and trusted after. */
export interface ProxyConfig {
  /** 'single': docker-proxy's own command line (dockerd's); 'multi': -p/--publish and --config. */
  readonly mode: 'single' | 'multi';
  /** The command line's mappings: exactly one in single mode. */
  readonly mappings: readonly Mapping[];
  /** Mappings file (multi mode), read at start-up and on SIGHUP. */
  readonly configFile: string | undefined;
  readonly logLevel: LogLevel;
  /** Also append logs here: dockerd gives the proxy /dev/null as stdout and stderr. */
  readonly logFile: string | undefined;
  /** UDP flows: forgotten after idleTimeoutMs without traffic; at most maxFlows at once. */
  readonly udp: { readonly idleTimeoutMs: number; readonly maxFlows: number };
  readonly dataPath: DataPathChoice;
  /** Serve GET /metrics and /healthz here; off when undefined. */
  readonly metricsAddr: Endpoint | undefined;
  /** Write <proto>_<host-ip>_<host-port>.prom here every metricsIntervalMs; off when undefined. */
  readonly metricsDir: string | undefined;
  readonly metricsIntervalMs: number;
  readonly privileges: PrivilegeSettings;
}

/** The largest IPv4 UDP payload; docker-proxy's UDPBufSize. */
export const UDP_MAX_DATAGRAM = 65_507;
export const TCP_KEEPALIVE_INITIAL_DELAY_MS = 15_000;

/**
 * Parses an IP the way Go's net.ParseIP does: dotted IPv4 without leading zeros, IPv6 without a
 * zone, and IPv4-mapped IPv6 counts as IPv4. Returns the canonical text, or undefined if invalid.
 */
export function parseIp(text: string): { address: string; family: Family } | undefined {
  if (isIPv4(text)) return { address: text, family: 4 };
  if (text.includes('%') || !isIPv6(text)) return undefined;
  const words = ipv6Words(text);
  if (words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff) {
    const [high = 0, low = 0] = words.slice(6);
    return { address: [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.'), family: 4 };
  }
  return { address: text.toLowerCase(), family: 6 };
}

/** Expands a valid IPv6 text (possibly with "::" and a dotted IPv4 tail) into its eight 16-bit words. */
function ipv6Words(text: string): number[] {
  const toWords = (part: string): number[] => part === '' ? [] : part.split(':').flatMap((group) => {
    if (!group.includes('.')) return [parseInt(group, 16)];
    const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
    return [(a << 8) | b, (c << 8) | d];
  });
  const [head = '', tail] = text.split('::');
  const headWords = toWords(head);
  const tailWords = tail === undefined ? [] : toWords(tail);
  const zeros = new Array<number>(8 - headWords.length - tailWords.length).fill(0);
  return [...headWords, ...zeros, ...tailWords];
}

/** Parses "HOST:PORT" or "[IPv6]:PORT" with an IP address (never a name: no DNS at startup). */
export function parseHostPort(text: string): Endpoint | undefined {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]*):(\d{1,5})$/.exec(text);
  const [, hostText = '', portText = ''] = match ?? [];
  const ip = hostText === '' ? { address: '0.0.0.0', family: 4 as const } : parseIp(hostText);
  const port = Number(portText);
  if (match === null || ip === undefined || port > 65535) return undefined;
  return { host: ip.address, port, family: ip.family };
}

/** Formats host:port as Go does, with brackets around IPv6 hosts. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The mapping's identity: what a reload compares. */
export function mappingKey(mapping: Mapping): string {
  const { proto, frontend, backend } = mapping;
  return `${proto}/${formatHostPort(frontend.host, frontend.port)}->${formatHostPort(backend.host, backend.port)}`;
}

/** Formats a mapping as docker-proxy's log lines do: tcp/0.0.0.0:8080 -> tcp/172.17.0.2:80. */
export function describeMapping(mapping: Mapping): string {
  const { proto, frontend, backend } = mapping;
  return `${proto}/${formatHostPort(frontend.host, frontend.port)} -> ${proto}/${formatHostPort(backend.host, backend.port)}`;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};

/**
 * Parses a duration in Go's time.ParseDuration syntax ("90s", "1m30s", "500ms"), or a plain number
 * of seconds ("90", "1.5"). Returns milliseconds, or undefined if the text is not a duration.
 */
export function parseDurationMs(text: string): number | undefined {
  if (/^\d+(\.\d*)?$|^\.\d+$/.test(text)) {
    const seconds = Number(text) * 1000;
    return Number.isFinite(seconds) ? seconds : undefined;
  }
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (match === null) return undefined;
    const [whole, amount = '', unit = ''] = match;
    total += Number(amount) * (DURATION_UNITS_MS[unit] ?? Number.NaN);
    index += whole.length;
  }
  return text.length > 0 && Number.isFinite(total) ? total : undefined;
}

/** The longest delay a Node timer takes (about 24.8 days); longer ones fire after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
