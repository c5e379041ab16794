// The pure-JS data path: stream pipes both ways (allowHalfOpen keeps half-closes intact), used
// where the splice addon is unavailable. Byte counts come from the sockets, not from each chunk.
import type { Socket } from 'node:net';
import type { Relay, RelayStats, StartRelay } from './relay.js';

/** Ends `socket` (FIN after queued bytes) and destroys it once that is done. */
function endThenDestroy(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableLength === 0) {
    socket.end();
    socket.destroy();
  } else {
    socket.end(() => socket.destroy());
  }
}

/** startStreamRelay pipes client ⇄ backend until both directions end. */
export const startStreamRelay: StartRelay = (client: Socket, backend: Socket): Relay => {
  const stats = (): RelayStats => ({ hostToContainer: client.bytesRead, containerToHost: backend.bytesRead });
  let resolveDone: (totals: RelayStats) => void = () => undefined;
  const done = new Promise<RelayStats>((resolve) => {
    resolveDone = resolve;
  });
  let open = 2;
  const onClose = (other: Socket) => (): void => {
    // A side that closed for good (error, reset, or both directions ended) ends the other.
    endThenDestroy(other);
    open -= 1;
    if (open === 0) resolveDone(stats());
  };
  // Errors only matter through 'close'; without a listener an EPIPE would crash the process.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  backend.on('error', ignore);
  client.once('close', onClose(backend));
  backend.once('close', onClose(client));
  client.pipe(backend);
  backend.pipe(client);
  return {
    done,
    stats,
    destroy: () => {
      client.destroy();
      backend.destroy();
    },
  };
};
