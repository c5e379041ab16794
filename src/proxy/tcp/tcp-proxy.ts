// TcpProxy: for each accepted connection, dial the container and hand both sockets to the relay
// (stream copy or splice). Failures stay local to their connection; the listener never stops,
// not even on EMFILE (unlike docker-proxy, moby#6402).
import { readFileSync } from 'node:fs';
import { connect, type Server, type Socket } from 'node:net';
import { TCP_KEEPALIVE_INITIAL_DELAY_MS, formatHostPort, type Endpoint } from '../../config.js';
import { describeError, errnoCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ConnectionObserver, Proxy, TcpSnapshot } from '../contract.js';
import type { Relay, StartRelay } from './relay.js';
import { Throttle } from '../throttle.js';

export interface TcpProxyOptions {
  readonly backend: Endpoint;
  readonly observer?: ConnectionObserver | undefined;
  readonly startRelay: StartRelay;
  readonly log: Logger;
  /** The mapping, for log lines. */
  readonly name: string;
}

/** Descriptors kept back for everything but client connections (listeners, pipes, logs, Node). */
const RESERVED_FDS = 64;

/**
 * How many connections the descriptor limit allows: each takes 2 (client and backend socket; a
 * spliced one 2 more for polling, and falls back to the stream relay if those are not there).
 */
function connectionBudget(): number | undefined {
  // The limit is the process's, not the mapping's: read it once, not once per listener (1000s with -p).
  if (budget !== null) return budget;
  budget = readConnectionBudget();
  return budget;
}

let budget: number | undefined | null = null;

function readConnectionBudget(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((text) => text.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isInteger(soft) && soft > 0 ? Math.max(4, Math.floor((soft - RESERVED_FDS) / 2)) : undefined;
  } catch {
    return undefined;
  }
}

/** Plain counters, read at scrape time. Bytes of open connections come from their relays. */
export interface TcpStats {
  connectionsTotal: number;
  bytesToContainerClosed: number;
  bytesToHostClosed: number;
  readonly backendConnectErrors: Record<string, number>;
  readonly acceptErrors: Record<string, number>;
}

/** TcpProxy forwards each accepted connection to the backend. */
export class TcpProxy implements Proxy {
  readonly stats: TcpStats = {
    connectionsTotal: 0, bytesToContainerClosed: 0, bytesToHostClosed: 0, backendConnectErrors: {}, acceptErrors: {},
  };
  readonly #options: TcpProxyOptions;
  readonly #relays = new Set<Relay>();
  readonly #dialing = new Set<Socket>();
  readonly #throttle = new Throttle();
  #server: Server | undefined;
  #closed = false;

  constructor(options: TcpProxyOptions) {
    this.#options = options;
  }

  /** Open connections, including those still dialling the container. */
  get activeConnections(): number {
    return this.#relays.size + this.#dialing.size;
  }

  /** Counters as the metrics read them at scrape time: closed connections plus live relays. */
  snapshot(): TcpSnapshot {
    let bytesToContainer = this.stats.bytesToContainerClosed;
    let bytesToHost = this.stats.bytesToHostClosed;
    for (const relay of this.#relays) {
      const live = relay.stats();
      bytesToContainer += live.hostToContainer;
      bytesToHost += live.containerToHost;
    }
    return {
      proto: 'tcp' as const,
      connectionsTotal: this.stats.connectionsTotal,
      connectionsActive: this.activeConnections,
      bytesToContainer,
      bytesToHost,
      backendConnectErrors: this.stats.backendConnectErrors,
      acceptErrors: this.stats.acceptErrors,
    };
  }

  /** Takes the listening server; its accept errors are counted and logged, never fatal. */
  attach(server: Server): void {
    this.#server = server;
    // When descriptors run out, libuv accepts and closes waiting connections silently. A cap
    // below the descriptor limit makes Node refuse them itself, with a 'drop' event to count.
    const cap = connectionBudget();
    if (cap !== undefined) {
      server.maxConnections = cap;
      server.on('drop', () => {
        this.stats.acceptErrors['EMFILE'] = (this.stats.acceptErrors['EMFILE'] ?? 0) + 1;
        this.#warn('accept:EMFILE', { code: 'EMFILE' },
          `connection refused on ${this.#options.name}: too many open files (the descriptor limit allows ${cap} connections); still listening`);
      });
    }
    server.on('error', (error) => {
      // libuv's accept loop survives EMFILE/ENFILE by accepting and closing the waiting connection
      // with a reserve descriptor; once descriptors free up, accepting works again.
      const code = errnoCode(error) ?? 'unknown';
      this.stats.acceptErrors[code] = (this.stats.acceptErrors[code] ?? 0) + 1;
      this.#warn(`accept:${code}`, { code }, `accept failed on ${this.#options.name}: ${describeError(error)}; still listening`);
    });
  }

  /** Handles one accepted (paused) client connection. */
  accept(client: Socket): void {
    if (this.#closed) {
      client.destroy();
      return;
    }
    this.stats.connectionsTotal += 1;
    const acceptedAt = performance.now();
    const { backend } = this.#options;
    const upstream = connect({
      host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true,
      keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_INITIAL_DELAY_MS,
    });
    // Paused before 'connect' so libuv never starts reading it: the relay decides how bytes move.
    upstream.pause();
    this.#dialing.add(upstream);
    const ignore = (): void => undefined;
    const closed = (): void => this.#options.observer?.connectionClosed((performance.now() - acceptedAt) / 1000);
    const abandon = (): void => {
      cleanUp();
      upstream.destroy();
      closed();
    };
    const cleanUp = (): void => {
      this.#dialing.delete(upstream);
      client.off('error', ignore);
      client.off('close', abandon);
      upstream.off('error', onDialError);
    };
    const onDialError = (error: Error): void => {
      cleanUp();
      const code = errnoCode(error) ?? 'unknown';
      this.stats.backendConnectErrors[code] = (this.stats.backendConnectErrors[code] ?? 0) + 1;
      const target = formatHostPort(backend.host, backend.port);
      this.#warn(`dial:${code}`, { code }, `Can't forward traffic to backend tcp/${target}: ${describeError(error)}`);
      upstream.destroy();
      client.destroy();
      closed();
    };
    client.on('error', ignore);
    client.once('close', abandon);
    upstream.once('error', onDialError);
    upstream.once('connect', () => {
      cleanUp();
      this.#options.observer?.backendConnected((performance.now() - acceptedAt) / 1000);
      this.#startRelay(client, upstream, acceptedAt);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server?.close();
    for (const socket of this.#dialing) socket.destroy();
    for (const relay of this.#relays) relay.destroy();
  }

  #startRelay(client: Socket, upstream: Socket, acceptedAt: number): void {
    const relay = this.#options.startRelay(client, upstream);
    this.#relays.add(relay);
    void relay.done.then((totals) => {
      this.#relays.delete(relay);
      this.stats.bytesToContainerClosed += totals.hostToContainer;
      this.stats.bytesToHostClosed += totals.containerToHost;
      this.#options.observer?.connectionClosed((performance.now() - acceptedAt) / 1000);
    });
  }

  #warn(key: string, fields: Record<string, string>, message: string): void {
    const suppressed = this.#throttle.admit(key);
    if (suppressed === undefined || this.#closed) return;
    this.#options.log.warn({ ...fields, suppressed }, message);
  }
}
