// The pure-JS data path: stream writes both ways (allowHalfOpen keeps half-closes intact). Used
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

/**
 * Bytes all stream relays together may move in one event-loop turn before they yield. libuv
 * handles a signal only after every event of the current epoll batch, and a readable socket
 * reads up to 32 × 64 KiB per event: with hundreds of busy transfers one turn took 0.4 s on an
 * idle machine and 0.8 s on a loaded one, and SIGINT/SIGTERM waited that long. Past the budget a
 * source that delivers data is paused (libuv stops reading it within one more chunk) and resumed
 * by setImmediate, after the signal had its chance. 4 MiB is a few milliseconds of copying.
 */
const TURN_BUDGET_BYTES = 4 * 1024 * 1024;
let turnBytes = 0;
let turnResetScheduled = false;
/** What resumes each source paused for the budget. */
let yielded: Array<() => void> = [];

function nextTurn(): void {
  turnBytes = 0;
  turnResetScheduled = false;
  const resumes = yielded;
  yielded = [];
  for (const resume of resumes) resume();
}

/** Counts a chunk against this turn's budget; true once the budget is spent. */
function overBudget(bytes: number): boolean {
  turnBytes += bytes;
  if (!turnResetScheduled) {
    turnResetScheduled = true;
    setImmediate(nextTurn);
  }
  return turnBytes > TURN_BUDGET_BYTES;
}

/**
 * One direction: what pipe() does (write each chunk, pause while the destination is full, end it
 * after the source's FIN), plus the turn budget. Written out because a pause that pipe() did not
 * make is not one pipe() resumes. Returns what detaches it.
 */
function forward(source: Socket, destination: Socket): () => void {
  let awaitingDrain = false;
  let yielding = false;
  const resume = (): void => {
    if (!awaitingDrain && !yielding && !source.destroyed) source.resume();
  };
  const onData = (chunk: Buffer): void => {
    // The destination is gone (its 'close' ends the source): stop reading, as pipe() would.
    if (destination.destroyed || destination.writableEnded) {
      source.pause();
      return;
    }
    if (!destination.write(chunk)) {
      awaitingDrain = true;
      source.pause();
    }
    if (!yielding && overBudget(chunk.length)) {
      yielding = true;
      source.pause();
      yielded.push(() => {
        yielding = false;
        resume();
      });
    }
  };
  const onDrain = (): void => {
    awaitingDrain = false;
    resume();
  };
  const onEnd = (): void => {
    if (!destination.destroyed) destination.end();
  };
  source.on('data', onData);
  destination.on('drain', onDrain);
  source.once('end', onEnd);
  source.resume();
  return () => {
    source.off('data', onData);
    destination.off('drain', onDrain);
    source.off('end', onEnd);
  };
}

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
    }
    detachUp();
    detachDown();
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
  // Each direction passes its FIN on as end() and applies backpressure; both sockets start reading.
  const detachUp = forward(client, backend);
  const detachDown = forward(backend, client);
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
