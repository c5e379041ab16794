// UDP clients for the published ports of the engine suite's container, on the host's loopback
// (HTTP goes through test/helpers/http.ts).
import dgram from 'node:dgram';
import { withTimeout } from '../helpers/timeout.ts';

/** The host address every port is published on; traffic never leaves the machine. */
export const HOST_IP = '127.0.0.1';

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
