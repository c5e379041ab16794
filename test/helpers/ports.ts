// Ports for a socket that is bound later by someone else (the proxy in fallback mode, a metrics
// endpoint, iperf3, nginx), and which ports of 127.0.0.1 are bound now. Never a fixed port: where
// the test can hold the socket itself, it binds port 0 and hands it over (net.ts, fd 4) instead.
//
// Two kinds of vacant port, for two risks. A port the OS chose (bind 0, close) lies in the kernel's
// ephemeral range, where the next connect() or send() from any unbound socket may take it before
// the proxy binds it: a proxy's own per-flow UDP socket did so in CI. reservePort() and
// reserveRange() therefore draw from below that range; osChosenPort() stays inside it, so that the
// bench's single ports never overlap the ranges it reserved below.
import { readFileSync } from 'node:fs';
import type dgram from 'node:dgram';
import type net from 'node:net';
import { bindUdp, closeSocket, listenTcp, portOf, type Proto } from './net.ts';

/** What a port must be vacant for: one protocol, or both (iperf3's UDP test has a TCP control connection). */
export type PortUse = Proto | 'tcp+udp';

/** The kernel's ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range); Linux's default elsewhere. */
export function ephemeralRange(): readonly [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // Not Linux, or no /proc: assume the default.
  }
  return [32768, 60999];
}

const EPHEMERAL = ephemeralRange();
/** Where single vacant ports are drawn from: below the ephemeral range, above the well-known services. */
const VACANT_LOW = Math.max(10_000, Math.floor(EPHEMERAL[0] / 2));

const inUse = (err: unknown): boolean => err instanceof Error && Reflect.get(err, 'code') === 'EADDRINUSE';

/** Binds `port` (0: the OS chooses) for `proto`, closes it again, and says which port it was; undefined when taken. */
async function probe(proto: Proto, host: string, port: number): Promise<number | undefined> {
  try {
    const sock = proto === 'tcp' ? await listenTcp({ host, port }) : await bindUdp(host, port);
    const got = portOf(sock);
    await closeSocket(sock);
    return got;
  } catch (err) {
    if (inUse(err)) return undefined;
    throw err;
  }
}

async function probeUse(use: PortUse, host: string, port: number): Promise<number | undefined> {
  if (use !== 'tcp+udp') return probe(use, host, port);
  const tcp = await probe('tcp', host, port);
  if (tcp === undefined) return undefined;
  return (await probe('udp', host, tcp)) === tcp ? tcp : undefined;
}

/** A port vacant now for `use` on `host`, drawn at random from below the ephemeral range (see the file comment). */
export async function reservePort(use: PortUse, host: string): Promise<number> {
  if (VACANT_LOW + 1_000 <= EPHEMERAL[0]) {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const port = await probeUse(use, host, VACANT_LOW + Math.floor(Math.random() * (EPHEMERAL[0] - VACANT_LOW)));
      if (port !== undefined) return port;
    }
  }
  // The range is unknown or too narrow: an OS-chosen port is all there is.
  return osChosenPort(use, host);
}

/** A port the OS chose for `use` on `host` a moment ago (bind 0, read, close). */
export async function osChosenPort(use: PortUse, host: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await probeUse(use, host, 0);
    if (port !== undefined) return port;
  }
  throw new Error(`no vacant ${use} port on ${host} after 50 attempts`);
}

/** Holds every port of start..start+count-1 at once; false as soon as one cannot be bound. */
async function allVacant(start: number, count: number, proto: Proto, host: string): Promise<boolean> {
  const held: Array<net.Server | dgram.Socket> = [];
  try {
    for (let port = start; port < start + count; port += 1) {
      held.push(proto === 'tcp' ? await listenTcp({ host, port }) : await bindUdp(host, port));
    }
    return true;
  } catch {
    return false; // taken, or not ours to bind: either way not a vacant range
  } finally {
    await Promise.all(held.map((sock) => closeSocket(sock)));
  }
}

/**
 * `count` consecutive ports vacant for `proto` on `host` a moment ago, at random below the ephemeral
 * range when it leaves room (from 10000 up), else above it. `avoid` lists ranges (start, count)
 * already given out and not to be overlapped.
 */
export async function reserveRange(count: number, proto: Proto, host: string,
  avoid: ReadonlyArray<readonly [number, number]> = []): Promise<number> {
  const [ephemeralLow, ephemeralHigh] = EPHEMERAL;
  const [low, high] = ephemeralLow - 10_000 >= count * 4 ? [10_000, ephemeralLow - count] : [ephemeralHigh + 1, 65_536 - count];
  if (high <= low) throw new Error(`no room for ${count} consecutive ports outside the ephemeral range ${ephemeralLow}-${ephemeralHigh}`);
  const overlaps = (start: number): boolean => avoid.some(([other, length]) => start < other + length && other < start + count);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const start = low + Math.floor(Math.random() * (high - low));
    if (!overlaps(start) && await allVacant(start, count, proto, host)) return start;
  }
  throw new Error(`no ${count} consecutive vacant ${proto} ports found in ${low}-${high + count - 1}`);
}

/** Ports of start..start+count-1 bound on 127.0.0.1 (TCP: listening), per /proc/net/{tcp,udp}. */
function boundPorts(proto: Proto, start: number, count: number): number[] {
  const ports: number[] = [];
  for (const line of readFileSync(`/proc/net/${proto}`, 'latin1').split('\n')) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (local === undefined || !local.startsWith('0100007F:') || (proto === 'tcp' && state !== '0A')) continue;
    const port = Number.parseInt(local.slice(9), 16);
    if (port >= start && port < start + count) ports.push(port);
  }
  return ports;
}

/** Whether something is bound on 127.0.0.1:port (TCP: listening); for processes that report no readiness (socat, nginx). */
export function isBound(proto: Proto, port: number): boolean {
  return boundPorts(proto, port, 1).length > 0;
}

/** How many ports of start..start+count-1 are bound on 127.0.0.1 (TCP: listening). */
export function boundCount(proto: Proto, start: number, count: number): number {
  return boundPorts(proto, start, count).length;
}
