// A mapping spec for one process serving many mappings: -p/--publish SPEC on the command line,
// and the same text as an entry of the config file (config-file.ts).
//   SPEC = [HOST_IP:]HOST_PORT[-END]:CONTAINER_IP:CONTAINER_PORT[-END][/tcp|/udp]
// IPv6 addresses go in brackets: [::1]:8080:[fd00::2]:80/tcp. A host range maps onto a container
// range of the same length, or onto one container port.
import { PROTOS, formatHostPort, parseIp, type Endpoint, type Mapping } from '../config.js';
import { ConfigError } from '../errors.js';

/** Ranges beyond this many ports in one spec are refused: almost certainly a typo. */
const MAX_PORTS_PER_SPEC = 65_536;

/** Splits "a:b:[c::d]:e" on the colons outside brackets. */
function splitFields(text: string): string[] | undefined {
  const fields: string[] = [];
  let current = '';
  let bracketed = false;
  for (const char of text) {
    if (char === '[' && !bracketed && current === '') bracketed = true;
    else if (char === ']' && bracketed) bracketed = false;
    else if (char === ':' && !bracketed) {
      fields.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  fields.push(current);
  return bracketed ? undefined : fields;
}

function parseAddress(text: string, what: string): { address: string; family: 4 | 6 } {
  const bracketed = /^\[(.*)\]$/.exec(text);
  const inner = bracketed?.[1] ?? text;
  const ip = parseIp(inner);
  if (ip === undefined || (ip.family === 6 && bracketed === null && inner.includes(':'))) {
    throw new ConfigError(`${what} ${text} is not an IP address${inner.includes(':') && bracketed === null ? ' (put IPv6 addresses in brackets)' : ''}`);
  }
  return ip;
}

function parseRange(text: string, what: string, minPort: number): [number, number] {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const start = Number(match?.[1]);
  const end = match?.[2] === undefined ? start : Number(match[2]);
  if (match === null || start < minPort || end > 65535 || end < start) {
    throw new ConfigError(`${what} ${text} is not a port (${minPort}-65535) or a range START-END`);
  }
  return [start, end];
}

/** Parses one SPEC into its mappings; throws a ConfigError saying what is wrong. */
export function parsePublishSpec(spec: string): Mapping[] {
  const slash = spec.lastIndexOf('/');
  const protoText = slash >= 0 ? spec.slice(slash + 1) : 'tcp';
  const proto = PROTOS.find((known) => known === protoText);
  if (proto === undefined) throw new ConfigError(`unknown protocol "${protoText}" (tcp or udp)`);
  const fields = splitFields(slash >= 0 ? spec.slice(0, slash) : spec);
  if (fields === undefined || fields.length < 3 || fields.length > 4) {
    throw new ConfigError('expected [HOST_IP:]HOST_PORT[-END]:CONTAINER_IP:CONTAINER_PORT[-END][/tcp|/udp]');
  }
  const [hostIpText, hostPorts = '', containerIpText = '', containerPorts = ''] = fields.length === 4 ? fields : ['0.0.0.0', ...fields];
  const hostIp = parseAddress(hostIpText ?? '0.0.0.0', 'host address');
  const containerIp = parseAddress(containerIpText, 'container address');
  const [hostStart, hostEnd] = parseRange(hostPorts, 'host port', 0);
  const [containerStart, containerEnd] = parseRange(containerPorts, 'container port', 1);
  const count = hostEnd - hostStart + 1;
  if (containerEnd !== containerStart && containerEnd - containerStart + 1 !== count) {
    throw new ConfigError(`the host range has ${count} ports but the container range has ${containerEnd - containerStart + 1}`);
  }
  if (hostStart === 0 && count > 1) throw new ConfigError('port 0 (any free port) cannot be part of a range');
  if (count > MAX_PORTS_PER_SPEC) throw new ConfigError(`too many ports in one spec (${count})`);
  return Array.from({ length: count }, (_, index): Mapping => ({
    proto,
    frontend: { host: hostIp.address, port: hostStart + index, family: hostIp.family } satisfies Endpoint,
    backend: { host: containerIp.address, port: containerEnd === containerStart ? containerStart : containerStart + index, family: containerIp.family },
    useListenFd: false,
  }));
}

/** Refuses two mappings on the same host address, port and protocol. */
export function assertDistinct(mappings: readonly Mapping[]): void {
  const seen = new Set<string>();
  for (const { proto, frontend } of mappings) {
    const key = `${proto}/${formatHostPort(frontend.host, frontend.port)}`;
    if (frontend.port !== 0 && seen.has(key)) throw new ConfigError(`${key} is mapped twice`);
    seen.add(key);
  }
}
