// The Proxy seam and the one switch on the protocol: open the frontend socket, build the proxy.
import { describeMapping, type DataPathPreference, type Mapping } from './config.js';
import { ConfigError } from './errors.js';
import { openTcpListener, openUdpSocket } from './listen.js';
import type { Logger } from './log.js';
import type { TcpSnapshot, UdpSnapshot } from './metrics.js';
import type { StartRelay } from './relay.js';
import { TcpProxy, type TcpObserver } from './tcp.js';
import { UdpProxy } from './udp.js';
import { openNativeUdpProxy, udpNativeAvailable } from './udp-native.js';

/** Proxy is one running mapping. */
export interface Proxy {
  /** Stops listening and tears down every connection or flow at once. Idempotent. */
  close(): void;
  /** Counters for the metrics, read at scrape time. */
  snapshot(): TcpSnapshot | UdpSnapshot;
}

/** The UDP implementation of the process: native/udp.cc, or the JS one (udp.ts). */
export interface UdpPath {
  readonly name: 'native' | 'js';
  readonly fallbackReason?: string;
}

/** UDP settings shared by every mapping of the process. */
export interface UdpSettings {
  readonly udpIdleTimeoutMs: number;
  readonly udpMaxFlows: number;
  /** The path every UDP mapping gets, decided once per process (service.ts). */
  readonly path: () => UdpPath;
}

/**
 * Which UDP implementation the data path option asks for, shared with TCP: 'stream' is the JS
 * path, 'splice' the native one (a start-up error where it cannot load), 'auto' native when available.
 */
export function chooseUdpPath(preference: DataPathPreference): UdpPath {
  if (preference === 'stream') return { name: 'js' };
  const native = udpNativeAvailable();
  if (native.ok) return { name: 'native' };
  if (preference === 'splice') throw new ConfigError(`data path splice is unavailable for UDP: ${native.reason}`);
  return { name: 'js', fallbackReason: native.reason };
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
    const settings = { backend: mapping.backend, idleTimeoutMs: deps.udp.udpIdleTimeoutMs, maxFlows: deps.udp.udpMaxFlows, log };
    if (deps.udp.path().name === 'native') return openNativeUdpProxy({ ...settings, frontend: mapping.frontend, useListenFd: mapping.useListenFd });
    return new UdpProxy({ ...settings, socket: await openUdpSocket(mapping.frontend, mapping.useListenFd) });
  }
  const proxy = new TcpProxy({
    backend: mapping.backend, startRelay: deps.startRelay, log, name: describeMapping(mapping), observer: deps.observer,
  });
  const server = await openTcpListener(mapping.frontend, mapping.useListenFd, (client) => proxy.accept(client));
  proxy.attach(server);
  return proxy;
}
