// The Proxy seam and the one switch on the protocol: open the frontend socket, build the proxy.
import { describeMapping, type Mapping } from './config.js';
import { openTcpListener, openUdpSocket } from './listen.js';
import type { Logger } from './log.js';
import type { TcpSnapshot, UdpSnapshot } from './metrics.js';
import type { StartRelay } from './relay.js';
import { TcpProxy, type TcpObserver } from './tcp.js';
import { UdpProxy } from './udp.js';

/** Proxy is one running mapping. */
export interface Proxy {
  /** Stops listening and tears down every connection or flow at once. Idempotent. */
  close(): void;
  /** Counters for the metrics, read at scrape time. */
  snapshot(): TcpSnapshot | UdpSnapshot;
}

/** UDP settings shared by every mapping of the process. */
export interface UdpSettings {
  readonly udpIdleTimeoutMs: number;
  readonly udpMaxFlows: number;
}

/** What createProxy needs besides the mapping. */
export interface ProxyDeps {
  readonly log: Logger;
  readonly startRelay: StartRelay;
  readonly udp: UdpSettings;
  readonly observer?: TcpObserver | undefined;
}

/** Opens the frontend socket of one mapping (throws a ListenError) and returns its running proxy. */
export async function createProxy(mapping: Mapping, deps: ProxyDeps): Promise<Proxy> {
  const log = deps.log;
  if (mapping.proto === 'udp') {
    const socket = await openUdpSocket(mapping.frontend, mapping.useListenFd);
    return new UdpProxy({
      socket, backend: mapping.backend, idleTimeoutMs: deps.udp.udpIdleTimeoutMs, maxFlows: deps.udp.udpMaxFlows, log,
    });
  }
  const proxy = new TcpProxy({
    backend: mapping.backend, startRelay: deps.startRelay, log, name: describeMapping(mapping), observer: deps.observer,
  });
  const server = await openTcpListener(mapping.frontend, mapping.useListenFd, (client) => proxy.accept(client));
  proxy.attach(server);
  return proxy;
}
