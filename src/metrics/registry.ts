// Prometheus metrics. The data path only bumps plain counters (or the splice addon counts
// natively); the series here read them when scraped, in collect(), so counting costs nothing per
// chunk or datagram (docs/design/node-facts.md §5). Histograms are tallied once per connection in plain arrays
// (histogram-tally.ts). The only file importing prom-client, and main loads it only when metrics
// are enabled.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConnectionObserver, TcpSnapshot, UdpSnapshot } from '../proxy/contract.js';
import { type Sample, TallySet } from './histogram-tally.js';

/** The labels that identify one mapping on every series. */
export interface MappingLabels {
  readonly proto: string;
  readonly host_ip: string;
  readonly host_port: string;
  readonly container_ip: string;
  readonly container_port: string;
}
const MAPPING_LABELS = ['proto', 'host_ip', 'host_port', 'container_ip', 'container_port'] as const;

/** A mapping as the metrics see it. */
export interface MetricsSource {
  readonly labels: MappingLabels;
  snapshot(): TcpSnapshot | UdpSnapshot;
}

export interface MetricsOptions {
  readonly version: string;
  /** The TCP data path in use; read at scrape time because 'auto' settles after start-up. */
  readonly dataPath: () => string;
  /** Prefix for prom-client's process/Node series (textfile mode must not clash with node_exporter's own). */
  readonly defaultMetricsPrefix: string;
  /** Told once when the histograms cannot be tallied (see TALLY_HOOK_PRESENT). */
  readonly warn?: (message: string) => void;
  /** Tally the histograms (the default where prom-client has the hook), or observe them plainly. */
  readonly tallied?: boolean;
}

/** One string per mapping label set (label values never contain a newline). */
function seriesKey(labels: MappingLabels): string {
  return MAPPING_LABELS.map((name) => labels[name]).join('\n');
}

/** The histograms' per-mapping side: one observer per series, forgotten with its mapping. */
interface HistogramSeries {
  tally(key: string, labels: Readonly<Record<string, string>>): { observe(value: number): void };
  drop(key: string): void;
}

/**
 * prom-client 15's registry formats a metric from getForPromString() when it has one, and
 * Histogram's own get() reads it too. It is not public API, so the version is pinned exactly in
 * package.json, and this checks at load time that the hook is still there.
 */
export const TALLY_HOOK_PRESENT = typeof Reflect.get(Histogram.prototype, 'getForPromString') === 'function';

/**
 * A histogram series whose samples come from tallies: prom-client supplies the metadata and the
 * formatting, the tallies the values (prom-client has no way to set bucket counts, only observe()).
 */
function talliedHistogram(registry: Registry, name: string, help: string, buckets: readonly number[]): HistogramSeries {
  const tallies = new TallySet(name, buckets);
  // Not in the typings, so the hook's shape is spelled out here. test/unit/metrics.test.ts
  // checks the text against a plain prom-client histogram's.
  class Tallied extends Histogram<string> {
    async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
      return { name, help, type: 'histogram', aggregator: 'sum', values: tallies.samples() };
    }
  }
  new Tallied({ name, help, labelNames: [...MAPPING_LABELS], buckets: [...buckets], registers: [registry] });
  return tallies;
}

/** Without the hook: prom-client's own histogram, observed per connection (slower, same text). */
function plainHistogram(registry: Registry, name: string, help: string, buckets: readonly number[]): HistogramSeries {
  const histogram = new Histogram({ name, help, labelNames: [...MAPPING_LABELS], buckets: [...buckets], registers: [registry] });
  const labelsByKey = new Map<string, Readonly<Record<string, string>>>();
  return {
    tally(key, labels) {
      labelsByKey.set(key, labels);
      const child = histogram.labels({ ...labels });
      return { observe: (value) => child.observe(value) };
    },
    drop(key) {
      const labels = labelsByKey.get(key);
      if (labels !== undefined) histogram.remove({ ...labels });
      labelsByKey.delete(key);
    },
  };
}

const DIRECTIONS = { toContainer: 'host_to_container', toHost: 'container_to_host' } as const;

/** Metrics owns a fresh registry with every docker_proxy_* series; see the file comment. */
export class Metrics {
  readonly registry = new Registry();
  readonly #sources = new Set<MetricsSource>();
  readonly #connectDuration: HistogramSeries;
  readonly #connectionDuration: HistogramSeries;
  #snapshots: Map<MetricsSource, TcpSnapshot | UdpSnapshot> | undefined;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    // One snapshot per mapping per scrape, however many series read it.
    const snapshots = (): ReadonlyMap<MetricsSource, TcpSnapshot | UdpSnapshot> => {
      this.#snapshots ??= new Map([...this.#sources].map((source) => [source, source.snapshot()]));
      return this.#snapshots;
    };
    const eachTcp = (visit: (labels: MappingLabels, snap: TcpSnapshot) => void): void => {
      for (const [source, snap] of snapshots()) if (snap.proto === 'tcp') visit(source.labels, snap);
    };
    const eachUdp = (visit: (labels: MappingLabels, snap: UdpSnapshot) => void): void => {
      for (const [source, snap] of snapshots()) if (snap.proto === 'udp') visit(source.labels, snap);
    };
    const counter = (name: string, help: string, extra: readonly string[], fill: (set: (labels: Record<string, string>, value: number) => void) => void) =>
      new Counter({
        name, help, registers, labelNames: [...MAPPING_LABELS, ...extra],
        collect() {
          this.reset();
          fill((labels, value) => this.inc(labels, value));
        },
      });
    const gauge = (name: string, help: string, fill: (set: (labels: Record<string, string>, value: number) => void) => void) =>
      new Gauge({
        name, help, registers, labelNames: [...MAPPING_LABELS],
        collect() {
          this.reset();
          fill((labels, value) => this.set(labels, value));
        },
      });
    const perCode = (record: Readonly<Record<string, number>>, key: string, labels: MappingLabels, set: (l: Record<string, string>, v: number) => void) => {
      for (const [code, value] of Object.entries(record)) set({ ...labels, [key]: code }, value);
    };

    counter('docker_proxy_connections_total', 'TCP connections accepted.', [], (set) =>
      eachTcp((labels, snap) => set({ ...labels }, snap.connectionsTotal)));
    gauge('docker_proxy_connections_active', 'TCP connections open now (including those still connecting to the container).', (set) =>
      eachTcp((labels, snap) => set({ ...labels }, snap.connectionsActive)));
    counter('docker_proxy_bytes_total', 'Payload bytes forwarded (TCP and UDP), by direction.', ['direction'], (set) => {
      for (const [source, snap] of snapshots()) {
        set({ ...source.labels, direction: DIRECTIONS.toContainer }, snap.bytesToContainer);
        set({ ...source.labels, direction: DIRECTIONS.toHost }, snap.bytesToHost);
      }
    });
    counter('docker_proxy_backend_connect_errors_total', 'Failed connections to the container, by errno code.', ['reason'], (set) =>
      eachTcp((labels, snap) => perCode(snap.backendConnectErrors, 'reason', labels, set)));
    counter('docker_proxy_accept_errors_total', 'Failed accepts on the host socket, by errno code.', ['code'], (set) =>
      eachTcp((labels, snap) => perCode(snap.acceptErrors, 'code', labels, set)));
    gauge('docker_proxy_udp_flows_active', 'UDP flows (client address:port) open now.', (set) =>
      eachUdp((labels, snap) => set({ ...labels }, snap.flowsActive)));
    counter('docker_proxy_udp_flows_total', 'UDP flows opened.', [], (set) =>
      eachUdp((labels, snap) => set({ ...labels }, snap.flowsTotal)));
    counter('docker_proxy_udp_flows_expired_total', 'UDP flows ended: idle timeout, or evicted by the flow limit.', ['reason'], (set) =>
      eachUdp((labels, snap) => {
        set({ ...labels, reason: 'idle' }, snap.flowsExpired.idle);
        set({ ...labels, reason: 'evicted' }, snap.flowsExpired.evicted);
      }));
    counter('docker_proxy_udp_datagrams_total', 'UDP datagrams received for forwarding, by direction.', ['direction'], (set) =>
      eachUdp((labels, snap) => {
        set({ ...labels, direction: DIRECTIONS.toContainer }, snap.datagramsToContainer);
        set({ ...labels, direction: DIRECTIONS.toHost }, snap.datagramsToHost);
      }));
    counter('docker_proxy_udp_dropped_total', 'UDP datagrams dropped, by reason.', ['reason'], (set) =>
      eachUdp((labels, snap) => perCode(snap.dropped, 'reason', labels, set)));
    new Gauge({
      name: 'docker_proxy_build_info', help: 'Version and TCP data path of this proxy; always 1.', labelNames: ['version', 'data_path'], registers,
      collect() {
        this.reset();
        this.set({ version: options.version, data_path: options.dataPath() }, 1);
      },
    });
    if (!TALLY_HOOK_PRESENT) options.warn?.('prom-client has no getForPromString() hook: histograms fall back to per-connection observations');
    const histogram = (options.tallied ?? TALLY_HOOK_PRESENT) && TALLY_HOOK_PRESENT ? talliedHistogram : plainHistogram;
    this.#connectDuration = histogram(this.registry, 'docker_proxy_backend_connect_duration_seconds',
      'Time to connect to the container, per accepted connection.', [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5]);
    this.#connectionDuration = histogram(this.registry, 'docker_proxy_connection_duration_seconds',
      'Lifetime of proxied TCP connections, observed when they close.', [0.001, 0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 86400]);
    // The default event-loop monitor samples every 10 ms: 100 wake-ups a second per proxy.
    collectDefaultMetrics({ register: this.registry, prefix: options.defaultMetricsPrefix, eventLoopMonitoringPrecision: 1000 });
  }

  /** Puts the mapping labels on every series, process metrics included (one mapping per process). */
  labelEverything(labels: MappingLabels): void {
    this.registry.setDefaultLabels({ ...labels });
  }

  /** Registers a mapping whose counters are read at every scrape. */
  add(source: MetricsSource): void {
    this.#sources.add(source);
  }

  /** The observer a mapping's TCP proxy reports connections to. */
  observerFor(mappingLabels: MappingLabels): ConnectionObserver {
    const key = seriesKey(mappingLabels);
    const connect = this.#connectDuration.tally(key, { ...mappingLabels });
    const lifetime = this.#connectionDuration.tally(key, { ...mappingLabels });
    return {
      backendConnected: (seconds) => connect.observe(seconds),
      connectionClosed: (seconds) => lifetime.observe(seconds),
    };
  }

  /** Unregisters a mapping: its counters and its histograms leave the exposition together. */
  remove(source: MetricsSource): void {
    this.#sources.delete(source);
    const key = seriesKey(source.labels);
    this.#connectDuration.drop(key);
    this.#connectionDuration.drop(key);
  }

  /** The exposition text, for HTTP and the textfile. */
  async render(): Promise<string> {
    try {
      return await this.registry.metrics();
    } finally {
      this.#snapshots = undefined;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
