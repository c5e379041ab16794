// OS-chosen ports: bind port 0 on 127.0.0.1, read the port, close. For a UDP mapping the same
// number must also be free for TCP (iperf3's control connection shares the port).
import dgram from 'node:dgram';
import net from 'node:net';

const HOST = '127.0.0.1';

function tcpProbe(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: HOST, exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(chosen));
    });
  });
}

function udpProbe(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(undefined);
    });
    socket.bind(port, HOST, () => {
      const chosen = socket.address().port;
      socket.close(() => resolve(chosen));
    });
  });
}

/** A port free for TCP (and for UDP too when `both`), chosen by the OS. */
export async function freePort(both = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tcpProbe(0);
    if (port === undefined) continue;
    if (!both || (await udpProbe(port)) === port) return port;
  }
  throw new Error('no free port on 127.0.0.1 after 50 attempts');
}

/** Whether something listens on 127.0.0.1:port (TCP LISTEN, or any bound UDP socket), per /proc/net. */
export function isBound(proto: 'tcp' | 'udp', port: number, table: string): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1] === local && (proto === 'udp' || fields[3] === '0A');
  });
}
