// A seeded generator of command lines and environments for the CLI fuzzer: valid flags in every
// syntax Go's flag package accepts (and some it does not), garbage, huge values, unicode, empty
// strings, and bad DOCKER_PROXY_* values. Seeded, so a failure is reproduced by its seed and case.
//
// With `spawnable`, nothing generated can make a spawned proxy listen beyond loopback or on a fixed
// port: host addresses are loopback or invalid, never empty (Go's nil IP binds "::") or a wildcard;
// host ports are 0 in some Go integer syntax, or invalid. The fuzzer also re-checks each parsed
// configuration before spawning it.
import type { Random } from '../../helpers/random.ts';

export interface Generated {
  readonly args: string[];
  readonly env: Record<string, string>;
}

export interface GrammarOptions {
  /** Only values that are safe to run (see the file comment), and no NUL characters. */
  readonly spawnable: boolean;
  /** A temporary directory the generated paths may point into. */
  readonly tmpDir: string;
}

const UNICODE = ['ü', '名前', '\u202e', '🐳', '\u00a0', 'ǅ', '\ufeff', 'e\u0301', '\ud800', 'Ω', '٣', '１２３'];
const CONTROL = ['\t', '\n', '\r', '\x1b[31m', '\x7f', '\x01'];

function garbage(r: Random, spawnable: boolean): string {
  const kind = r.int(8);
  const alphabet = 'abcxyz0123456789-_=.:/[]%@ ';
  switch (kind) {
    case 0:
      return '';
    case 1:
      return r.pick(UNICODE).repeat(1 + r.int(4));
    case 2:
      return r.pick(CONTROL) + r.pick(['x', '1', '-']);
    case 3:
      // Huge: one argv or environment string may hold 128 KiB on Linux (and '名' is 3 bytes).
      return r.pick(['9', 'a', '-', '名']).repeat(r.pick([1_000, 10_000, spawnable ? 40_000 : 100_000]));
    case 4:
      return spawnable ? 'nul-free' : `a\0b`;
    default: {
      let text = '';
      for (let i = r.int(12); i >= 0; i -= 1) text += alphabet.charAt(r.int(alphabet.length));
      return text;
    }
  }
}

/** Go integer texts; `zeroOnly` gives only spellings of 0 (and invalid ones). */
function intText(r: Random, zeroOnly: boolean): string {
  const zeros = ['0', '00', '0x0', '0o0', '0b0', '+0', '-0', '0_0', '0X0'];
  const invalid = ['', '-1', '65536', '99999999999999999999', '9223372036854775808', '-9223372036854775809', '1e3', ' 80',
    '80 ', '0x', '0_', '_0', '1__0', '0b2', '0o8', '0xg', 'eighty', '٣', '１', '0x1p4', 'NaN', 'Infinity', '1.0'];
  const valid = ['1', '80', '65535', '0x50', '0o120', '0120', '1_000', '+443', '0b1010000'];
  const roll = r.int(10);
  if (roll < 4) return r.pick(zeros);
  if (roll < 8 || zeroOnly) return r.pick(invalid);
  return r.pick(valid);
}

function ipText(r: Random, hostSide: boolean, spawnable: boolean): string {
  const loopback = ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.0.0.2', '0:0:0:0:0:0:0:1', '[::1]'];
  const invalid = ['localhost', '127.0.0.01', '256.0.0.1', '1.2.3', 'fe80::1%lo', '::1%1', ':::', '1::2::3', '127.0.0.1 ',
    ' ::1', '0x7f.0.0.1', '127.1', 'gggg::1'];
  const other = ['', '0.0.0.0', '::', '172.17.0.2', 'fd00::2', '::ffff:0.0.0.0'];
  const roll = r.int(10);
  if (roll < 5) return r.pick(loopback);
  if (roll < 8) return r.pick(invalid);
  if (hostSide && spawnable) return r.pick(invalid);
  if (roll < 9) return r.pick(other);
  return garbage(r, spawnable);
}

function durationText(r: Random): string {
  return r.pick(['90s', '1m30s', '500ms', '1.5', '.5s', '5µs', '5us', '1h', '0', '0s', '-1s', '1e3s', 'forever', '', '1000h',
    '2562047h', '99999999999999999999h', '1ns', '1.5.5s', '1m1', 's', '9007199254740993ms', '10 s', '9'.repeat(400),
    `${'9'.repeat(400)}ms`, '0.0000001ms', '596h', '597h']);
}

function hostPortText(r: Random, spawnable: boolean): string {
  const loopbackZero = ['127.0.0.1:0', '[::1]:0', '127.0.0.1:00'];
  const invalid = ['localhost:0', '127.0.0.1', '127.0.0.1:65536', '127.0.0.1:-1', '[::1]', '::1:0', '127.0.0.1:0x0', 'nonsense', ''];
  const unsafe = [':0', '0.0.0.0:0', '[::]:0', '127.0.0.1:9323'];
  const roll = r.int(10);
  if (roll < 5) return r.pick(loopbackZero);
  if (roll < 9 || spawnable) return r.pick(invalid);
  return r.pick(unsafe);
}

function specText(r: Random, spawnable: boolean): string {
  const safe = ['127.0.0.1:0:127.0.0.1:80', '127.0.0.1:0:127.0.0.1:80/udp', '[::1]:0:[::1]:53/udp', '127.0.0.1:0-0:127.0.0.1:9/tcp'];
  const invalid = ['80', '127.0.0.1:0:80', '127.0.0.1:0:127.0.0.1:80/sctp', '::1:0:::1:80', '127.0.0.1:2-1:127.0.0.1:80',
    '127.0.0.1:0:127.0.0.1:0', '127.0.0.1:0:127.0.0.1:1-65535', 'a:b:c:d', '[::1:0:[::1]:80', ''];
  const unsafe = ['0:127.0.0.1:80', '8080:127.0.0.1:80', '0.0.0.0:0:127.0.0.1:80', '127.0.0.1:1000-2000:127.0.0.1:1000-2000'];
  const roll = r.int(10);
  if (roll < 4) return r.pick(safe);
  if (roll < 9 || spawnable) return r.pick(invalid);
  return r.pick(unsafe);
}

function pathText(r: Random, tmpDir: string, file: boolean): string {
  return r.pick([`${tmpDir}/${file ? 'proxy.log' : 'metrics'}`, tmpDir, '/nonexistent/dir/x', '', '/dev/null', '/proc/self/x',
    `${tmpDir}/${'n'.repeat(300)}`, `${tmpDir}/名前`, '.', 'relative/path']);
}

type Kind = 'proto' | 'host-ip' | 'ip' | 'host-port' | 'int' | 'bool' | 'duration' | 'flows' | 'level' | 'file' | 'dir'
  | 'addr' | 'data-path' | 'spec' | 'none';

const FLAGS: ReadonlyArray<readonly [string, Kind]> = [
  ['proto', 'proto'], ['host-ip', 'host-ip'], ['host-port', 'host-port'], ['container-ip', 'ip'], ['container-port', 'int'],
  ['use-listen-fd', 'bool'], ['v', 'bool'], ['version', 'bool'], ['h', 'none'], ['help', 'none'],
  ['data-path', 'data-path'], ['log-level', 'level'], ['log-file', 'file'], ['udp-idle-timeout', 'duration'],
  ['udp-max-flows', 'flows'], ['metrics-addr', 'addr'], ['metrics-dir', 'dir'], ['metrics-interval', 'duration'],
  ['p', 'spec'], ['publish', 'spec'], ['config', 'file'],
];

const ENV_KINDS: ReadonlyArray<readonly [string, Kind]> = [
  ['DOCKER_PROXY_DATA_PATH', 'data-path'], ['DOCKER_PROXY_LOG_LEVEL', 'level'], ['DOCKER_PROXY_LOG_FILE', 'file'],
  ['DOCKER_PROXY_UDP_IDLE_TIMEOUT', 'duration'], ['DOCKER_PROXY_UDP_MAX_FLOWS', 'flows'], ['DOCKER_PROXY_METRICS_ADDR', 'addr'],
  ['DOCKER_PROXY_METRICS_DIR', 'dir'], ['DOCKER_PROXY_METRICS_INTERVAL', 'duration'], ['DOCKER_PROXY_CONFIG', 'file'],
  ['DOCKER_PROXY_BOGUS', 'none'], ['DOCKER_PROXY_', 'none'], ['DOCKER_PROXY_PUBLISH', 'spec'],
];

function value(r: Random, kind: Kind, o: GrammarOptions): string {
  if (r.chance(0.08)) {
    // Garbage anywhere, except where it could become a wildcard bind (empty host IP / spec host).
    const text = garbage(r, o.spawnable);
    if (!(o.spawnable && text === '' && (kind === 'host-ip' || kind === 'spec'))) return text;
  }
  switch (kind) {
    case 'proto':
      return r.pick(['tcp', 'udp', 'sctp', 'TCP', 'tcp ', 'udp6', '', 'icmp']);
    case 'host-ip':
      return ipText(r, true, o.spawnable);
    case 'ip':
      return ipText(r, false, o.spawnable);
    case 'host-port':
      return intText(r, o.spawnable);
    case 'int':
      return intText(r, false);
    case 'bool':
      return r.pick(['true', 'false', '1', '0', 't', 'F', 'TRUE', 'True', 'yes', '', 'tru']);
    case 'duration':
      return durationText(r);
    case 'flows':
      return r.pick(['1', '1000', '1000000', '1000001', '0', '-5', '0x10', '99999999999999999999', 'many', '']);
    case 'level':
      return r.pick(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent', 'INFO', 'verbose', '']);
    case 'file':
      return pathText(r, o.tmpDir, true);
    case 'dir':
      return pathText(r, o.tmpDir, false);
    case 'addr':
      return hostPortText(r, o.spawnable);
    case 'data-path':
      return r.pick(['auto', 'splice', 'stream', 'SPLICE', 'zero-copy', '']);
    case 'spec':
      return specText(r, o.spawnable);
    case 'none':
      return garbage(r, o.spawnable);
  }
}

/** One flag occurrence in one of Go's syntaxes (or a broken one). */
function flagTokens(r: Random, o: GrammarOptions): string[] {
  const [name, kind] = r.pick(FLAGS);
  const dashes = r.pick(['-', '-', '--']);
  const bool = kind === 'bool' || kind === 'none';
  const roll = r.int(10);
  if (bool && roll < 6) return [`${dashes}${name}`];
  if (roll < 5) return [`${dashes}${name}`, value(r, kind, o)];
  if (roll < 9) return [`${dashes}${name}=${value(r, kind, o)}`];
  return [`${dashes}${name}`]; // a value flag without its value: "flag needs an argument" when last
}

function strayToken(r: Random, o: GrammarOptions): string[] {
  return [r.pick(['-', '--', '---proto', '-=x', '-proto=', '-bogus', '--unknown=1', 'positional', '-use-listen-fd=maybe',
    '-H', '-P', garbage(r, o.spawnable)])];
}

/** A random command line and environment. */
export function generate(r: Random, o: GrammarOptions): Generated {
  const args: string[] = [];
  // Mostly dockerd-shaped command lines, so that many cases get past the first flag.
  if (r.chance(0.6)) {
    args.push('-proto', r.pick(['tcp', 'udp']), '-host-ip', r.pick(['127.0.0.1', '::1']), '-host-port', '0',
      '-container-ip', '127.0.0.1', '-container-port', r.pick(['80', '9', '65535']));
  }
  for (let i = r.int(6); i > 0; i -= 1) args.push(...(r.chance(0.85) ? flagTokens(r, o) : strayToken(r, o)));
  if (r.chance(0.15)) args.push('-use-listen-fd');
  const env: Record<string, string> = {};
  for (let i = r.int(4); i > 0; i -= 1) {
    const [name, kind] = r.pick(ENV_KINDS);
    env[name] = value(r, kind, o);
  }
  return { args, env };
}
