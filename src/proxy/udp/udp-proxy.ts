// UdpProxy: every client address:port gets its own flow, a backend socket connected to the
// container, so the container sees one stable source port per client; replies go back to that
// client from the frontend socket. Flows live in a bounded LRU table (flow-table.ts).
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { formatHostPort, type Endpoint } from '../../config.js';
import { FlowTable, systemClock, type Clock, type ExpiryReason } from './flow-table.js';
import { describeError, errnoCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Proxy, UdpSnapshot } from '../contract.js';
import { Throttle } from '../throttle.js';

/** Datagrams held for a flow whose backend socket is still connecting (a tick, normally). */
const CONNECT_QUEUE_MAX = 64;
/** Beyond this many bytes waiting in libuv's send queue, new datagrams are dropped, not buffered. */
const SEND_QUEUE_MAX_BYTES = 4 * 1024 * 1024;

export interface UdpProxyOptions {
  readonly socket: UdpSocket;
  readonly backend: Endpoint;
  readonly idleTimeoutMs: number;
  readonly maxFlows: number;
  readonly log: Logger;
  readonly clock?: Clock;
}

/** Plain counters, read at scrape time; nothing on the datagram path does more than `+=`. */
export interface UdpStats {
  datagramsToContainer: number;
  datagramsToHost: number;
  bytesToContainer: number;
  bytesToHost: number;
  flowsTotal: number;
  readonly flowsExpired: Record<ExpiryReason, number>;
  readonly dropped: Record<string, number>;
}

interface Flow {
  readonly key: string;
  readonly client: { readonly address: string; readonly port: number };
  readonly socket: UdpSocket;
  /** Datagrams waiting for connect(); undefined once connected. */
  queue: Buffer[] | undefined;
}

/** UdpProxy forwards datagrams per client flow; see the file comment. */
export class UdpProxy implements Proxy {
  readonly stats: UdpStats = {
    datagramsToContainer: 0, datagramsToHost: 0, bytesToContainer: 0, bytesToHost: 0, flowsTotal: 0,
    flowsExpired: { idle: 0, evicted: 0, closed: 0 }, dropped: {},
  };
  readonly #frontend: UdpSocket;
  readonly #backend: Endpoint;
  readonly #log: Logger;
  readonly #table: FlowTable<Flow>;
  readonly #throttle = new Throttle();
  #closed = false;

  constructor(options: UdpProxyOptions) {
    this.#frontend = options.socket;
    this.#backend = options.backend;
    this.#log = options.log;
    this.#table = new FlowTable<Flow>({
      idleTimeoutMs: options.idleTimeoutMs,
      maxFlows: options.maxFlows,
      clock: options.clock ?? systemClock,
      onExpire: (flow, reason) => this.#endFlow(flow, reason),
    });
    this.#frontend.on('message', (message, client) => this.#fromClient(message, client));
    this.#frontend.on('error', (error) => this.#warn('frontend', 'udp frontend socket error', error));
  }

  get activeFlows(): number {
    return this.#table.size;
  }

  /** Counters as the metrics read them at scrape time. */
  snapshot(): UdpSnapshot {
    const { stats } = this;
    return {
      proto: 'udp' as const,
      flowsActive: this.#table.size,
      flowsTotal: stats.flowsTotal,
      flowsExpired: stats.flowsExpired,
      datagramsToContainer: stats.datagramsToContainer,
      datagramsToHost: stats.datagramsToHost,
      bytesToContainer: stats.bytesToContainer,
      bytesToHost: stats.bytesToHost,
      dropped: stats.dropped,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#table.clear();
    try {
      this.#frontend.close();
    } catch {
      // Already closed.
    }
  }

  #fromClient(message: Buffer, client: RemoteInfo): void {
    const key = `${client.address}|${client.port}`;
    const flow = this.#table.touch(key) ?? this.#openFlow(key, client);
    this.stats.datagramsToContainer += 1;
    this.stats.bytesToContainer += message.length;
    if (flow.queue !== undefined) {
      if (flow.queue.length < CONNECT_QUEUE_MAX) flow.queue.push(message);
      else this.#drop('backend_connecting');
      return;
    }
    this.#sendToBackend(flow, message);
  }

  #openFlow(key: string, client: RemoteInfo): Flow {
    const socket = createSocket(this.#backend.family === 4 ? 'udp4' : 'udp6');
    const flow: Flow = { key, client: { address: client.address, port: client.port }, socket, queue: [] };
    socket.on('message', (message) => this.#fromBackend(flow, message));
    socket.on('error', (error) => this.#backendError(flow, error));
    socket.connect(this.#backend.port, this.#backend.host, () => {
      const queued = flow.queue ?? [];
      flow.queue = undefined;
      for (const message of queued) this.#sendToBackend(flow, message);
    });
    this.#table.add(key, flow);
    this.stats.flowsTotal += 1;
    return flow;
  }

  #sendToBackend(flow: Flow, message: Buffer, retried = false): void {
    if (flow.socket.getSendQueueSize() > SEND_QUEUE_MAX_BYTES) {
      this.#drop('send_queue_full');
      return;
    }
    flow.socket.send(message, (error) => {
      if (error === null || error === undefined) return;
      // A port-unreachable caused by an EARLIER datagram is reported on the next send and
      // consumes the error without sending: send this one again, as docker-proxy 29.5+ does.
      if (errnoCode(error) === 'ECONNREFUSED' && !retried) {
        this.#sendToBackend(flow, message, true);
        return;
      }
      this.#drop(errnoCode(error) ?? 'send_error');
      this.#warn('backend-send', `Can't proxy a datagram to udp/${this.#backendText()}`, error);
    });
  }

  #fromBackend(flow: Flow, message: Buffer): void {
    this.#table.touch(flow.key);
    this.stats.datagramsToHost += 1;
    this.stats.bytesToHost += message.length;
    if (this.#frontend.getSendQueueSize() > SEND_QUEUE_MAX_BYTES) {
      this.#drop('send_queue_full');
      return;
    }
    this.#frontend.send(message, flow.client.port, flow.client.address);
  }

  #backendError(flow: Flow, error: Error): void {
    // The container is not listening (yet): ICMP port-unreachable. Keep the flow, as Go does.
    if (errnoCode(error) === 'ECONNREFUSED') return;
    this.#warn('backend', `Can't proxy a datagram to udp/${this.#backendText()}`, error);
    if (flow.queue !== undefined) this.#drop(errnoCode(error) ?? 'backend_error', flow.queue.length);
    // A late error from a flow already replaced by a newer one for the same client must not end that one.
    this.#table.delete(flow.key, 'closed', flow);
  }

  #endFlow(flow: Flow, reason: ExpiryReason): void {
    this.stats.flowsExpired[reason] += 1;
    try {
      flow.socket.close();
    } catch {
      // Already closed after an error.
    }
  }

  #drop(reason: string, count = 1): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + count;
  }

  #backendText(): string {
    return formatHostPort(this.#backend.host, this.#backend.port);
  }

  #warn(key: string, message: string, error: unknown): void {
    const suppressed = this.#throttle.admit(`${key}:${errnoCode(error) ?? ''}`);
    if (suppressed === undefined || this.#closed) return;
    this.#log.warn({ err: describeError(error), suppressed }, `${message}: ${describeError(error)}`);
  }
}
