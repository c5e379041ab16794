// The one switch on the protocol: open the frontend socket of a mapping, build its proxy.
import { describeMapping, type Mapping } from '../config.js';
import { openTcpListener, openUdpSocket } from './listen.js';
import type { Logger } from '../log.js';
import type { ConnectionObserver, Proxy, UdpSettings } from './contract.js';
import type { StartRelay } from './tcp/relay.js';
import { TcpProxy } from './tcp/tcp-proxy.js';
import { UdpProxy } from './udp/udp-proxy.js';
import { openNativeUdpProxy } from './udp/native-udp-proxy.js';

/** What createProxy needs besides the mapping. */
export interface ProxyDeps {
  readonly log: Logger;
  readonly startRelay: StartRelay;
  readonly udp: UdpSettings;
  readonly observer?: ConnectionObserver | undefined;
}

/** Opens the frontend socket of one mapping (throws a ListenError) and returns its running proxy. */
export async function createProxy(mapping: Mapping, deps: ProxyDeps): Promise<Proxy> {
  const log = deps.log;
  if (mapping.proto === 'udp') {
    const settings = { backend: mapping.backend, idleTimeoutMs: deps.udp.idleTimeoutMs, maxFlows: deps.udp.maxFlows, log };
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
