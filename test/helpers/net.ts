// Sockets on loopback, and access to their raw fds for fd 4. Ports for a socket bound later by
// someone else are ports.ts's.
import dgram from 'node:dgram';
import net from 'node:net';
import { STEP_MS, withTimeout } from './timeout.ts';

export type Proto = 'tcp' | 'udp';

/** The loopback address of each IP family; traffic never leaves the machine. */
export const LOOPBACK = { v4: '127.0.0.1', v6: '::1' } as const;

/** The dgram socket type that matches an IP literal. */
export function udpType(host: string): 'udp4' | 'udp6' {
  return net.isIPv6(host) ? 'udp6' : 'udp4';
}

function fdOf(handle: unknown, what: string): number {
  const fd: unknown = typeof handle === 'object' && handle !== null ? Reflect.get(handle, 'fd') : undefined;
  if (typeof fd !== 'number' || fd < 0) throw new Error(`cannot read the fd of ${what}`);
  return fd;
}

/**
 * The OS fd behind a listening net.Server. Node keeps it on the private `_handle`; the
 * checks make a Node upgrade that moves it fail loudly instead of passing a wrong fd.
 */
export function serverFd(server: net.Server): number {
  return fdOf(Reflect.get(server, '_handle'), 'a net.Server');
}

/**
 * The OS fd behind a bound dgram socket. Node 20 keeps the handle in a symbol-keyed state
 * object; its `_handle` getter still works but prints DEP0112, so look for the symbol first.
 */
export function dgramFd(socket: dgram.Socket): number {
  const stateKey = Object.getOwnPropertySymbols(socket).find((key) => key.description === 'state symbol');
  const state: unknown = stateKey === undefined ? undefined : Reflect.get(socket, stateKey);
  const handle: unknown = typeof state === 'object' && state !== null
    ? Reflect.get(state, 'handle') : Reflect.get(socket, '_handle');
  return fdOf(handle, 'a dgram socket');
}

/** The port a listening server or bound socket got from the OS. */
export function portOf(sock: net.Server | dgram.Socket): number {
  const addr = sock.address();
  if (addr === null || typeof addr === 'string') throw new Error('socket has no TCP/UDP address');
  return addr.port;
}

export interface TcpListenOptions {
  readonly host: string;
  /** listen(2) backlog; Node's default is 511. */
  readonly backlog?: number;
  /** For `::` only: false makes a dual-stack listener that also accepts IPv4 clients. */
  readonly ipv6Only?: boolean;
  /** A given port (for a backend that starts late on a known port); default 0. */
  readonly port?: number;
}

/** A TCP server listening on an OS-chosen port (as dockerd's socket is before fd 4). */
export async function listenTcp(opts: TcpListenOptions, onConnection?: (sock: net.Socket) => void,
): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, onConnection);
  await withTimeout(new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port ?? 0, host: opts.host, backlog: opts.backlog, ipv6Only: opts.ipv6Only }, resolve);
  }), STEP_MS, `listen on ${opts.host}:${opts.port ?? 0}`);
  return server;
}

/** A UDP socket bound to `host`:`port` (default: an OS-chosen port). */
export async function bindUdp(host: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket(udpType(host));
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => resolve());
    }), STEP_MS, `bind udp ${host}:${port}`);
  } catch (err) {
    socket.close(); // a socket that failed to bind still holds a handle: probing many ports must not leak them
    throw err;
  }
  return socket;
}

/** Closes a server or dgram socket; resolves once its fd is gone. */
export async function closeSocket(sock: net.Server | dgram.Socket): Promise<void> {
  await withTimeout(new Promise<void>((resolve) => {
    if (sock instanceof net.Server) {
      if (!sock.listening) { resolve(); return; }
      sock.close(() => resolve());
    } else {
      try { sock.close(() => resolve()); } catch { resolve(); } // already closed
    }
  }), STEP_MS, 'close socket');
}

async function probeIpv6(): Promise<boolean> {
  try {
    const server = await listenTcp({ host: LOOPBACK.v6 }, (sock) => sock.destroy());
    try {
      await withTimeout(new Promise<void>((resolve, reject) => {
        const client = net.connect({ host: LOOPBACK.v6, port: portOf(server) }, () => { client.destroy(); resolve(); });
        client.once('error', reject);
      }), 1_000, 'connect to ::1');
      return true;
    } finally {
      await closeSocket(server);
    }
  } catch {
    return false;
  }
}

/** Whether ::1 works on this machine (containers and CI runners may have IPv6 disabled). */
export const IPV6_WORKS: boolean = await probeIpv6();

/** Test options that skip an IPv6 test on a machine without a working ::1. */
export function needsIpv6(): { skip?: string } {
  return IPV6_WORKS ? {} : { skip: 'IPv6 loopback (::1) is not usable on this machine' };
}
