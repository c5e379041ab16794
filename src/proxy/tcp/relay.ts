import type { Socket } from 'node:net';

/** Bytes moved so far by one relay, per direction. */
export interface RelayStats {
  /** Bytes read from the client (host side) and written towards the container. */
  readonly hostToContainer: number;
  /** Bytes read from the container and written towards the client. */
  readonly containerToHost: number;
}

/**
 * Relay copies bytes both ways between an accepted client socket and a connected backend socket,
 * passing half-closes through (a FIN from one side becomes shutdown(SHUT_WR) towards the other).
 * From the moment it starts it owns both sockets: it destroys both before `done` settles.
 */
export interface Relay {
  /** Settles once both directions have ended and both sockets are destroyed; never rejects. */
  readonly done: Promise<RelayStats>;
  /** Current byte counts; cheap enough to call at every metrics scrape. */
  stats(): RelayStats;
  /** Tears both sockets down now (used on shutdown). Idempotent. */
  destroy(): void;
}

/**
 * StartRelay is the one seam of the TCP data path: the stream copy and the splice(2) addon both
 * implement it. Both sockets arrive paused, with allowHalfOpen set and the backend connected.
 */
export type StartRelay = (client: Socket, backend: Socket) => Relay;
