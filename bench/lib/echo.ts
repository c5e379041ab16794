// In-process backends: TCP and UDP echo servers for the correctness check, and an idle TCP
// server that only holds connections, for the memory-per-connection scenario.
import dgram from 'node:dgram';
import net from 'node:net';

/** A backend listening on 127.0.0.1:port. */
export interface Backend {
  readonly port: number;
  close(): Promise<void>;
}

function listenTcp(server: net.Server, sockets: Set<net.Socket>): Promise<Backend> {
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) return reject(new Error('no address'));
      resolve({
        port: address.port,
        close: () => new Promise<void>((done) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

/** Echoes every TCP byte back and passes the client's half-close through. */
export function startTcpEcho(): Promise<Backend> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => socket.pipe(socket));
  return listenTcp(server, new Set());
}

/** Accepts connections and holds them, never writing; it reads only to notice the peer's close. */
export async function startIdleServer(): Promise<Backend & { accepted(): number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => socket.resume());
  const backend = await listenTcp(server, sockets);
  return { ...backend, accepted: () => sockets.size };
}

/** Sends every UDP datagram back to where it came from. */
export function startUdpEcho(): Promise<Backend> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, from) => socket.send(message, from.port, from.address));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      resolve({ port: socket.address().port, close: () => new Promise((done) => socket.close(() => done())) });
    });
  });
}
