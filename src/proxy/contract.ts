// What the data plane promises the rest of the process, and what it reports back. The proxies
// (tcp/, udp/) implement these; the supervisor and the metrics consume them. Nothing here
// imports an implementation, so either side may import this file without making a cycle.

/** Proxy is one running mapping. */
export interface Proxy {
  /** Stops listening and tears down every connection or flow at once. Idempotent. */
  close(): void;
  /** Counters for the metrics, read at scrape time. */
  snapshot(): TcpSnapshot | UdpSnapshot;
}

/** What a TCP mapping reports at scrape time. */
export interface TcpSnapshot {
  readonly proto: 'tcp';
  readonly connectionsTotal: number;
  readonly connectionsActive: number;
  readonly bytesToContainer: number;
  readonly bytesToHost: number;
  readonly backendConnectErrors: Readonly<Record<string, number>>;
  readonly acceptErrors: Readonly<Record<string, number>>;
}

/** What a UDP mapping reports at scrape time. */
export interface UdpSnapshot {
  readonly proto: 'udp';
  readonly flowsActive: number;
  readonly flowsTotal: number;
  readonly flowsExpired: { readonly idle: number; readonly evicted: number };
  readonly datagramsToContainer: number;
  readonly datagramsToHost: number;
  readonly bytesToContainer: number;
  readonly bytesToHost: number;
  readonly dropped: Readonly<Record<string, number>>;
}

/** Per-connection events of a TCP mapping, for histograms: once per connection, never per chunk. */
export interface ConnectionObserver {
  backendConnected(seconds: number): void;
  connectionClosed(seconds: number): void;
}

/** The UDP implementation of the process: the addon (native/udp/), or the JS one (udp/udp-proxy.ts). */
export interface UdpPath {
  readonly name: 'native' | 'js';
  readonly fallbackReason?: string;
}

/** UDP settings shared by every mapping of the process. */
export interface UdpSettings {
  readonly idleTimeoutMs: number;
  readonly maxFlows: number;
  /** The path every UDP mapping gets, decided once per process (service.ts). */
  readonly path: () => UdpPath;
}
