// Correctness before timing: bytes and datagrams sent through a candidate must come back from
// the echo backend unchanged, including a TCP half-close. A mismatch stops the whole run.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { tcpRoundTrip } from '../../test/helpers/client.ts';
import { LOOPBACK } from '../../test/helpers/net.ts';
import { withTimeout } from '../../test/helpers/timeout.ts';

const TCP_SIZES = [1, 65_536, 1 << 20, 4 << 20];
const UDP_SIZES = [1, 64, 512, 1400, 8000];
const TIMEOUT_MS = 10_000;

async function checkTcp(port: number): Promise<void> {
  await Promise.all(TCP_SIZES.map(async (size) => {
    const payload = randomBytes(size);
    const echoed = await tcpRoundTrip(LOOPBACK.v4, port, payload, TIMEOUT_MS);
    if (!echoed.equals(payload)) {
      throw new Error(`tcp echo of ${size} bytes came back as ${echoed.length} bytes${echoed.length === size ? ' with different content' : ''}`);
    }
  }));
}

async function udpClient(port: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  const expected = new Set(UDP_SIZES.map((size) => randomBytes(size).toString('base64')));
  const done = new Promise<void>((resolve, reject) => {
    socket.on('message', (message) => {
      const key = message.toString('base64');
      if (!expected.delete(key)) reject(new Error(`udp: unexpected datagram of ${message.length} bytes`));
      if (expected.size === 0) resolve();
    });
    socket.on('error', reject);
  });
  try {
    await new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', resolve));
    for (const key of expected) socket.send(Buffer.from(key, 'base64'));
    await withTimeout(done, TIMEOUT_MS, () => `udp echo (${expected.size} of ${UDP_SIZES.length} datagrams missing)`);
  } finally {
    socket.close();
  }
}

/**
 * Throws unless TCP (`proto` tcp) or UDP (`proto` udp) traffic through `port` echoes intact. UDP
 * runs `udpClients` clients at once: each must get its own flow and only its own replies.
 */
export async function verifyEcho(proto: 'tcp' | 'udp', port: number, udpClients: number): Promise<void> {
  if (proto === 'tcp') await checkTcp(port);
  else await Promise.all(Array.from({ length: udpClients }, () => udpClient(port)));
}
