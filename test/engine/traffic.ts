// Clients for the published ports of the engine suite's container, on the host's loopback.
import dgram from 'node:dgram';
import http from 'node:http';
import { STEP_MS, withTimeout } from '../helpers/timeout.ts';

/** The host address every port is published on; traffic never leaves the machine. */
export const HOST_IP = '127.0.0.1';

export interface HttpReply { readonly status: number; readonly body: Buffer }

/** One GET on a connection of its own; resolves with the status and the whole body. */
export function httpGet(port: number, path: string, ms = STEP_MS): Promise<HttpReply> {
  return withTimeout(new Promise<HttpReply>((resolve, reject) => {
    // agent: false gives each request its own connection (busybox httpd closes after one).
    const req = http.get({ host: HOST_IP, port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  }), ms, `GET http://${HOST_IP}:${port}${path}`);
}

export interface Datagram { readonly payload: Buffer; readonly fromPort: number; readonly fromAddress: string }

/** Sends one datagram from a fresh socket and returns the first reply. */
export async function udpExchange(port: number, payload: Buffer, ms = 2_000): Promise<Datagram> {
  const socket = dgram.createSocket('udp4');
  try {
    const reply = new Promise<Datagram>((resolve, reject) => {
      socket.once('message', (msg, rinfo) => resolve({ payload: msg, fromPort: rinfo.port, fromAddress: rinfo.address }));
      socket.once('error', reject);
    });
    socket.send(payload, port, HOST_IP);
    return await withTimeout(reply, ms, `UDP echo from ${HOST_IP}:${port}`);
  } finally {
    socket.close();
  }
}
