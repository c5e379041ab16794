// Backends ("containers") for the proxy to forward to, on OS-chosen loopback ports.
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

export interface TcpBackend {
  readonly port: number;
  /** Number of connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** A TCP server on `host`:`port` (default OS-chosen) applying `behaviour` to every connection. */
export async function startTcpBackend(host: string, behaviour: TcpBehaviour, port = 0): Promise<TcpBackend> {
  const socks = new Set<net.Socket>();
  let accepted = 0;
  const server = await listenTcp({ host, port }, (sock) => {
    accepted += 1;
    socks.add(sock);
    sock.on('error', () => undefined); // a reset from the proxy is not the test's concern here
    sock.on('close', () => socks.delete(sock));
    behaviour(sock);
  });
  return {
    port: portOf(server),
    accepted: () => accepted,
    close: async () => {
      for (const sock of socks) sock.destroy();
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
