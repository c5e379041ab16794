// A UDP client that talks to the proxy's host port: a queue of received datagrams, and a deadline
// on every wait.
import type dgram from 'node:dgram';
import { bindUdp } from './net.ts';
import { STEP_MS, withTimeout } from './timeout.ts';

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
