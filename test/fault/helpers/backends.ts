// Containers for the fault suite: a TCP server whose per-connection behaviour the test sets,
// on a loopback port (OS-chosen, or a given one to "restart" on), that can be closed and
// whose sockets the test can reach.
import type net from 'node:net';
import { closeSocket, listenTcp, portOf } from '../../helpers/net.ts';
import { V4 } from './settings.ts';

export interface Backend {
  readonly port: number;
  /** The connections accepted so far that are still open. */
  readonly sockets: Set<net.Socket>;
  accepted(): number;
  /** Resolves with the next accepted connection; ask before connecting, or it may be missed. */
  nextConnection(): Promise<net.Socket>;
  /** Stops listening and destroys every open connection (a container that stops). */
  close(): Promise<void>;
}

/** Echoes bytes as they come, and passes the FIN back. */
export const echoBehaviour = (sock: net.Socket): void => {
  sock.pipe(sock);
};

/** A TCP backend on `port` (0 = OS-chosen) applying `behaviour` to each connection. */
export async function startBackend(behaviour: (sock: net.Socket) => void, port = 0, host = V4): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  const waiting: Array<(sock: net.Socket) => void> = [];
  let accepted = 0;
  const server = await listenTcp({ host, port, backlog: 4096 }, (sock) => {
    accepted += 1;
    sockets.add(sock);
    sock.on('error', () => undefined); // resets are what several cases provoke
    sock.once('close', () => sockets.delete(sock));
    sock.setNoDelay(true);
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
