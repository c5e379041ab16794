// Backends ("containers") for the proxy to forward to, on loopback: OS-chosen ports, or a given
// one for a container that "restarts" on the port it had.
import type dgram from 'node:dgram';
import type net from 'node:net';
import { bindUdp, closeSocket, listenTcp, portOf } from './net.ts';

/** What a TCP backend does with each accepted connection. */
export type TcpBehaviour = (sock: net.Socket) => void;

/** Echoes bytes as they come and passes the client's FIN back (io.Copy in moby's tests). */
export const echo: TcpBehaviour = (sock) => { sock.pipe(sock); };

/** Reads until the client's FIN, then writes everything back and ends (moby's half-close mode). */
export const replyAfterEof: TcpBehaviour = (sock) => {
  const chunks: Buffer[] = [];
  sock.on('data', (chunk: Buffer) => chunks.push(chunk));
  sock.on('end', () => sock.end(Buffer.concat(chunks)));
};

/**
 * Holds the connection and never writes (idle connections for memory figures). It reads only to
 * see the FIN, which it answers: the server is half-open, and an unanswered FIN would leave the
 * proxy's side open for ever.
 */
export const hold: TcpBehaviour = (sock) => {
  sock.resume();
  sock.once('end', () => sock.end());
};

export interface TcpBackend {
  readonly port: number;
  /** The accepted connections that are still open. */
  readonly sockets: ReadonlySet<net.Socket>;
  /** Number of connections accepted so far. */
  accepted(): number;
  /** Resolves with the next accepted connection; ask before connecting, or it may be missed. */
  nextConnection(): Promise<net.Socket>;
  /** Stops listening and destroys every open connection (a container that stops). */
  close(): Promise<void>;
}

/** A listen backlog for backends that take bursts of connections (the fault suite's, the bench's). */
export const DEEP_BACKLOG = 4096;

export interface TcpBackendOptions {
  /** Listen on this port instead of an OS-chosen one. */
  readonly port?: number;
  /** listen(2) backlog, for bursts of connections (Node's default is 511). */
  readonly backlog?: number;
  /** Disable Nagle on accepted connections, where latency is measured. */
  readonly noDelay?: boolean;
}

/** A TCP server on `host` applying `behaviour` to every connection (half-open allowed). */
export async function startTcpBackend(host: string, behaviour: TcpBehaviour, opts: TcpBackendOptions = {}): Promise<TcpBackend> {
  const sockets = new Set<net.Socket>();
  const waiting: Array<(sock: net.Socket) => void> = [];
  let accepted = 0;
  const server = await listenTcp({ host, port: opts.port, backlog: opts.backlog }, (sock) => {
    accepted += 1;
    sockets.add(sock);
    sock.on('error', () => undefined); // resets are what several cases provoke, and not the backend's concern
    sock.once('close', () => sockets.delete(sock));
    if (opts.noDelay === true) sock.setNoDelay(true);
    behaviour(sock);
    waiting.shift()?.(sock);
  });
  return {
    port: portOf(server),
    sockets,
    accepted: () => accepted,
    nextConnection: () => new Promise<net.Socket>((resolve) => waiting.push(resolve)),
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await closeSocket(server);
    },
  };
}

/** One datagram as the UDP backend saw it. */
export interface Seen { readonly payload: Buffer; readonly fromPort: number }

export interface UdpBackend {
  readonly port: number;
  readonly socket: dgram.Socket;
  /** Every datagram received so far, in order. */
  readonly seen: Seen[];
  /** Resolves once `count` datagrams have been received in total. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface UdpBackendOptions {
  /** Echo each datagram to its sender (default true). */
  readonly reply?: boolean;
  /** Bind this port instead of an OS-chosen one. */
  readonly port?: number;
}

/** A UDP backend that records each datagram and, if asked, echoes it to its sender. */
export async function startUdpBackend(host: string, opts: UdpBackendOptions = {}): Promise<UdpBackend> {
  const reply = opts.reply ?? true;
  const socket = await bindUdp(host, opts.port);
  const seen: Seen[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  socket.on('message', (payload, rinfo) => {
    seen.push({ payload, fromPort: rinfo.port });
    if (reply) socket.send(payload, rinfo.port, rinfo.address);
    for (const w of waiters.filter((x) => seen.length >= x.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    port: portOf(socket),
    socket,
    seen,
    waitFor: (count) => new Promise<void>((resolve) => {
      if (seen.length >= count) resolve();
      else waiters.push({ count, resolve });
    }),
    close: () => closeSocket(socket),
  };
}
