// OS-chosen ports: bind port 0 on 127.0.0.1, read the port, close. For a UDP mapping the same
// number must also be free for TCP (iperf3's control connection shares the port).
// Ranges of consecutive ports (many mappings in one process) are found by probing.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
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

/** The kernel's range for ephemeral (client) ports, from /proc/sys/net/ipv4/ip_local_port_range. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // Not Linux, or no procfs: assume the default.
  }
  return [32768, 60999];
}

/** Holds every port of start..start+count-1 at once, or resolves false if one is taken. */
async function allFree(start: number, count: number, proto: 'tcp' | 'udp'): Promise<boolean> {
  const held: Array<net.Server | dgram.Socket> = [];
  try {
    for (let port = start; port < start + count; port++) {
      const ok = await new Promise<boolean>((resolve) => {
        if (proto === 'tcp') {
          const server = net.createServer();
          server.once('error', () => resolve(false));
          server.listen({ port, host: HOST, exclusive: true }, () => {
            held.push(server);
            resolve(true);
          });
        } else {
          const socket = dgram.createSocket('udp4');
          socket.once('error', () => {
            socket.close();
            resolve(false);
          });
          socket.bind(port, HOST, () => {
            held.push(socket);
            resolve(true);
          });
        }
      });
      if (!ok) return false;
    }
    return true;
  } finally {
    await Promise.all(held.map((each) => new Promise<void>((resolve) => {
      if (each instanceof net.Server) each.close(() => resolve());
      else each.close(() => resolve());
    })));
  }
}

/**
 * `count` consecutive ports free for `proto` a moment ago, chosen at random below the kernel's
 * ephemeral range when it leaves room (from 10000 up): there the kernel never hands out client
 * ports, so the bench's own connections cannot take one between this probe and the proxy's bind.
 * `avoid` lists ranges (start, count) already given out and not to be overlapped.
 */
export async function freeRange(count: number, proto: 'tcp' | 'udp', avoid: ReadonlyArray<readonly [number, number]> = []): Promise<number> {
  const [ephemeralLow, ephemeralHigh] = ephemeralRange();
  const [low, high] = ephemeralLow - 10_000 >= count * 4 ? [10_000, ephemeralLow - count] : [ephemeralHigh + 1, 65_536 - count];
  if (high <= low) throw new Error(`no room for ${count} consecutive ports outside the ephemeral range ${ephemeralLow}-${ephemeralHigh}`);
  const overlaps = (start: number): boolean => avoid.some(([other, length]) => start < other + length && other < start + count);
  for (let attempt = 0; attempt < 50; attempt++) {
    const start = low + Math.floor(Math.random() * (high - low));
    if (!overlaps(start) && await allFree(start, count, proto)) return start;
  }
  throw new Error(`no ${count} consecutive free ${proto} ports found in ${low}-${high + count - 1}`);
}

/** How many ports of start..start+count-1 are bound on 127.0.0.1 (TCP: listening), per /proc/net. */
export function boundCount(proto: 'tcp' | 'udp', start: number, count: number): number {
  const table = readFileSync(`/proc/net/${proto}`, 'utf8');
  let found = 0;
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (local === undefined || !local.startsWith('0100007F:') || (proto === 'tcp' && fields[3] !== '0A')) continue;
    const port = Number.parseInt(local.slice(9), 16);
    if (port >= start && port < start + count) found += 1;
  }
  return found;
}
