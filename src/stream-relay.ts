// The pure-JS data path: stream pipes both ways (allowHalfOpen keeps half-closes intact). Used
// where the splice addon is unavailable, and for any connection it cannot take. Byte counts come
// from the sockets, never from each chunk.
import type { Socket } from 'node:net';
import type { RelayStats, StartRelay } from './relay.js';

/** Ends `socket` (a FIN after its queued bytes), then destroys it once those are written. */
function endThenDestroy(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableFinished) {
    socket.destroy();
    return;
  }
  socket.once('finish', destroyOnFinish);
  socket.end();
}

function destroyOnFinish(this: Socket): void {
  this.destroy();
}

// Errors are traffic events here (resets, EPIPE); they end the socket, and 'close' follows. The
// listener also keeps an unhandled EPIPE from crashing the process.
function ignoreError(): void {}

/** startStreamRelay pipes client ⇄ backend until both directions have ended. */
export const startStreamRelay: StartRelay = (client, backend) => {
  const stats = (): RelayStats => ({
    // net.Socket keeps bytesRead after destroy(), so the totals stay exact.
    hostToContainer: client.bytesRead,
    containerToHost: backend.bytesRead,
  });
  let resolveDone: (totals: RelayStats) => void = () => {};
  const done = new Promise<RelayStats>((resolve) => {
    resolveDone = resolve;
  });
  // Counted from our own 'close' listeners: socket.closed turns true before the fd is closed.
  let clientClosed = client.destroyed;
  let backendClosed = backend.destroyed;

  const settle = (): void => {
    if (!clientClosed || !backendClosed) return;
    for (const socket of [client, backend]) {
      socket.off('error', ignoreError);
      socket.off('finish', destroyOnFinish);
      socket.unpipe();
    }
    client.off('close', onClientClose);
    backend.off('close', onBackendClose);
    resolveDone(stats());
  };
  // A side that is gone for good (error, reset, or both of its directions ended) ends the other.
  const onClientClose = (): void => {
    clientClosed = true;
    endThenDestroy(backend);
    settle();
  };
  const onBackendClose = (): void => {
    backendClosed = true;
    endThenDestroy(client);
    settle();
  };

  client.on('error', ignoreError);
  backend.on('error', ignoreError);
  client.once('close', onClientClose);
  backend.once('close', onBackendClose);
  // pipe() passes each FIN on as end() and applies backpressure; it also resumes both sockets.
  client.pipe(backend);
  backend.pipe(client);
  if (clientClosed || backendClosed) {
    // Handed a socket that was already destroyed: its 'close' may never come again.
    queueMicrotask(() => {
      if (clientClosed) onClientClose();
      if (backendClosed) onBackendClose();
    });
  }

  return {
    done,
    stats,
    destroy(): void {
      client.destroy();
      backend.destroy();
    },
  };
};
