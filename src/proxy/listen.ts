// The frontend socket: adopt the one the engine bound and passed on fd 4 (-use-listen-fd), or
// bind host-ip:host-port ourselves. Written once for both protocols.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { TCP_KEEPALIVE_INITIAL_DELAY_MS, type Endpoint } from '../config.js';
import { ListenError, describeError, listenError } from '../errors.js';

const LISTEN_FD = 4;
const SOMAXCONN_FALLBACK = 4096;

/**
 * The listen backlog to ask for. dockerd listens with -1 (the kernel's somaxconn) before it passes
 * the socket; Node calls listen() again on an adopted fd, and its default of 511 would shrink it.
 */
function somaxconn(): number {
  try {
    const value = Number.parseInt(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), 10);
    return Number.isInteger(value) && value > 0 ? value : SOMAXCONN_FALLBACK;
  } catch {
    return SOMAXCONN_FALLBACK;
  }
}

/** Checks fd 4 holds a socket; otherwise it may be one of Node's own descriptors. */
function assertListenFdIsSocket(): void {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${LISTEN_FD}`);
  } catch {
    throw new ListenError(`unexpected socket type for listener fd: fd ${LISTEN_FD} is not open (-use-listen-fd needs the socket on fd 4)`);
  }
  if (!target.startsWith('socket:')) {
    throw new ListenError(`unexpected socket type for listener fd: fd ${LISTEN_FD} is ${target}, not a socket`);
  }
}

/** Opens the TCP listener, paused per connection so that no byte is read before the backend is up. */
export async function openTcpListener(frontend: Endpoint, useListenFd: boolean, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({
    allowHalfOpen: true, pauseOnConnect: true, noDelay: true,
    keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_INITIAL_DELAY_MS,
  }, onConnection);
  if (useListenFd) assertListenFdIsSocket();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const ready = (): void => {
        server.off('error', reject);
        resolve();
      };
      // With {fd}, Node takes the backlog only from the second argument, not from the options.
      if (useListenFd) server.listen({ fd: LISTEN_FD }, somaxconn(), ready);
      else server.listen({ host: frontend.host, port: frontend.port, ipv6Only: frontend.family === 6, backlog: somaxconn(), exclusive: true }, ready);
    });
  } catch (error) {
    server.close();
    if (!useListenFd) throw listenError('tcp', frontend, error);
    throw new ListenError(`unexpected socket type for listener fd: ${describeError(error)}`, { cause: error });
  }
  // A Unix socket on fd 4 would "listen" fine but has no IP address: not what -proto tcp means.
  const address = server.address();
  if (useListenFd && (address === null || typeof address === 'string')) {
    server.close();
    throw new ListenError('unexpected socket type for listener fd: not a TCP socket');
  }
  return server;
}

/** Opens the UDP frontend socket of the family docker-proxy picks from -host-ip. */
export async function openUdpSocket(frontend: Endpoint, useListenFd: boolean): Promise<UdpSocket> {
  const type = frontend.family === 4 ? 'udp4' : 'udp6';
  const socket = createSocket({ type, ipv6Only: frontend.family === 6 && !useListenFd });
  if (useListenFd) assertListenFdIsSocket();
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      const done = (): void => {
        socket.off('error', reject);
        resolve();
      };
      // bind({fd}) throws at once (ERR_INVALID_FD_TYPE) when fd 4 is not a UDP socket.
      if (useListenFd) socket.bind({ fd: LISTEN_FD }, done);
      else socket.bind({ address: frontend.host, port: frontend.port, exclusive: true }, done);
    });
  } catch (error) {
    closeQuietly(socket);
    if (!useListenFd) throw listenError('udp', frontend, error);
    throw new ListenError(`unexpected socket type for listener fd: ${describeError(error)}`, { cause: error });
  }
  const family = socket.address().family;
  if (family !== `IPv${frontend.family}`) {
    closeQuietly(socket);
    throw new ListenError(`unexpected socket type for listener fd: an ${family} socket, but -host-ip ${frontend.host} is IPv${frontend.family}`);
  }
  return socket;
}

function closeQuietly(socket: UdpSocket): void {
  try {
    socket.close();
  } catch {
    // Never bound: nothing to close.
  }
}
