// Clients that talk to the proxy's host port, with a deadline on every wait.
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { bindUdp } from './net.ts';
import { STEP_MS, withTimeout } from './timeout.ts';

/** Connects with allowHalfOpen, so the test decides when its side sends FIN. */
export async function connectTcp(host: string, port: number): Promise<net.Socket> {
  const sock = net.connect({ host, port, allowHalfOpen: true });
  await withTimeout(new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  }), STEP_MS, `connect to ${host}:${port}`);
  return sock;
}

/** Everything the peer sends until its FIN; rejects on a reset or other error. */
export function readToEnd(sock: net.Socket): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    sock.on('data', (chunk: Buffer) => chunks.push(chunk));
    sock.once('end', () => resolve(Buffer.concat(chunks)));
    sock.once('error', reject);
  });
}

/** Sends `payload`, half-closes, and returns the full reply (read until the peer's FIN). */
export async function tcpRoundTrip(host: string, port: number, payload: Buffer | string,
  ms = STEP_MS): Promise<Buffer> {
  const sock = await connectTcp(host, port);
  try {
    const reply = readToEnd(sock);
    sock.end(payload);
    return await withTimeout(reply, ms, `reply from ${host}:${port}`);
  } finally {
    sock.destroy();
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A datagram the client received, with the port it came from. */
export interface Reply { readonly payload: Buffer; readonly fromPort: number }

/** A UDP client socket with a queue of received datagrams. */
export interface UdpClient {
  readonly socket: dgram.Socket;
  send(payload: Buffer | string, port: number): Promise<void>;
  /** The next datagram received (already queued or still to come). */
  next(ms?: number): Promise<Reply>;
  /** send() then next(): one request/response. */
  request(payload: Buffer | string, port: number, ms?: number): Promise<Reply>;
  close(): Promise<void>;
}

/** A UDP client bound to an OS-chosen port on `host`, sending to `host`. */
export async function udpClient(host: string): Promise<UdpClient> {
  const socket = await bindUdp(host);
  const queue: Reply[] = [];
  const waiters: Array<(msg: Reply) => void> = [];
  socket.on('message', (payload, rinfo) => {
    const msg = { payload, fromPort: rinfo.port };
    const waiter = waiters.shift();
    if (waiter === undefined) queue.push(msg);
    else waiter(msg);
  });
  const send = (payload: Buffer | string, port: number): Promise<void> =>
    withTimeout(new Promise<void>((resolve, reject) => {
      socket.send(payload, port, host, (err) => (err ? reject(err) : resolve()));
    }), STEP_MS, `udp send to ${host}:${port}`);
  const next = (ms = STEP_MS): Promise<Reply> => {
    const queued = queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    let waiter: ((msg: Reply) => void) | undefined;
    const wait = new Promise<Reply>((resolve) => { waiter = resolve; waiters.push(resolve); });
    // A timed-out wait must not swallow a later datagram meant for the next caller.
    return withTimeout(wait, ms, `udp datagram on ${host}`).finally(() => {
      const at = waiters.findIndex((w) => w === waiter);
      if (at >= 0) waiters.splice(at, 1);
    });
  };
  return {
    socket, send, next,
    request: async (payload, port, ms) => { await send(payload, port); return next(ms); },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
