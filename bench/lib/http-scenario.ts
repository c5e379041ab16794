// Shared body of the two HTTP scenarios: nginx behind each candidate, wrk in front.
import { type Candidate, METRICS_OVERHEAD_SIDE_BY_SIDE, TRAFFIC_CANDIDATES } from './candidates.ts';
import type { RunningProxy } from './candidates.ts';
import { withProxyCpu } from './cpu.ts';
import { Fleet } from './fleet.ts';
import { type MetricsWindow, grew, outside } from './metrics-scrape.ts';
import { STATIC_FILE_BYTES, STATIC_PATH, startNginx } from './nginx.ts';
import { rendezvous } from './rendezvous.ts';
import { failedRound } from './results.ts';
import type { MetricSpec, RunSettings, Sample, Scenario, Session } from './scenario.ts';
import { type HttpResult, runWrk } from './wrk.ts';
import { sumOf } from '../../test/helpers/exposition.ts';

/** wrk connections: 64, as the brief of the suite fixes. */
export const HTTP_CONNECTIONS = 64;

export interface HttpScenarioSpec {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly closeEach: boolean;
  readonly rateMetric: MetricSpec;
}

/** Room for one response's headers on top of the body, in the byte counter check. */
const HEADER_BYTES_MAX = 1024;

/** What ours-metrics' counters must say about one wrk run. */
export function httpCounterErrors(window: MetricsWindow, result: HttpResult, closeEach: boolean): string[] {
  // wrk opens one connection of its own before the load, to check the address. Then, with
  // Connection: close, one per request (plus one per wrk connection still in flight at the end);
  // otherwise one per wrk connection, plus a reconnect per error.
  const [low, high] = closeEach
    ? [result.requests + 1, result.requests + 1 + HTTP_CONNECTIONS + result.errors]
    : [HTTP_CONNECTIONS + 1, HTTP_CONNECTIONS + 1 + result.errors];
  return [
    outside(`connections_total growth over ${result.requests} requests`, grew(window, 'docker_proxy_connections_total'), low, high),
    outside(`bytes_total{container_to_host} growth over ${result.requests} responses`,
      grew(window, 'docker_proxy_bytes_total', { direction: 'container_to_host' }),
      result.requests * STATIC_FILE_BYTES, (result.requests + HTTP_CONNECTIONS) * (STATIC_FILE_BYTES + HEADER_BYTES_MAX)),
    outside('connections_active after the load', sumOf(window.after, 'docker_proxy_connections_active'), 0, 0),
  ].filter((each) => each !== undefined);
}

/** One wrk run through `proxy`, once `started` says go; the sample of the scenario's metrics. */
async function measureOnce(spec: HttpScenarioSpec, settings: RunSettings, candidate: Candidate, proxy: RunningProxy,
  started: () => Promise<void>): Promise<Sample> {
  const url = `http://127.0.0.1:${proxy.port}${STATIC_PATH}`;
  const { result, cpuSeconds, metrics } = await withProxyCpu(proxy,
    () => runWrk(url, settings.seconds, HTTP_CONNECTIONS, spec.closeEach), started);
  if (result.requests <= 0) throw new Error('wrk completed no request');
  if (metrics !== undefined) for (const error of httpCounterErrors(metrics, result, spec.closeEach)) settings.problem(candidate, error);
  const sample: Record<string, number> = {
    [spec.rateMetric.key]: result.requestsPerSecond, p99_ms: result.p99Ms, errors: result.errors,
  };
  if (cpuSeconds !== undefined) sample.cpu_us_per_req = (cpuSeconds * 1e6) / result.requests;
  return sample;
}

/** Builds a scenario that reports `rateMetric` (requests/s), p99 latency, CPU per request and errors. */
export function httpScenario(spec: HttpScenarioSpec): Scenario {
  return {
    name: spec.name,
    title: spec.title,
    description: `${spec.description} nginx (1 worker) serves a ${STATIC_FILE_BYTES}-byte static file; `
      + `wrk -t1 -c${HTTP_CONNECTIONS} --latency. Proxy CPU is utime+stime of the proxy tree per request. `
      + '`ours-metrics` is `ours-splice` with GET /metrics scraped every second during the load.',
    metrics: [
      spec.rateMetric,
      { key: 'p99_ms', label: 'p99 latency', unit: 'ms', better: 'lower' },
      { key: 'cpu_us_per_req', label: 'proxy CPU per request', unit: 'µs', better: 'lower' },
      { key: 'errors', label: 'wrk socket errors + non-2xx', unit: 'count', better: 'lower' },
    ],
    candidates: TRAFFIC_CANDIDATES,
    pairedRounds: METRICS_OVERHEAD_SIDE_BY_SIDE,
    async prepare(settings, candidates): Promise<Session> {
      const nginx = await startNginx();
      const fleet = new Fleet(settings, 'tcp', nginx.port);
      await fleet.startAll(candidates);
      const measure = (candidate: Candidate, proxy: RunningProxy, started: () => Promise<void>): Promise<Sample> =>
        measureOnce(spec, settings, candidate, proxy, started);
      return {
        measure: (candidate) => fleet.measure(candidate, (proxy) => measure(candidate, proxy, () => Promise.resolve())),
        // The two wrk runs start together; each window opens (and settles) before either starts.
        measurePair: async (pair) => {
          const started = rendezvous(pair.length);
          const samples = await Promise.all(pair.map((candidate) => fleet.measure(candidate, (proxy) => measure(candidate, proxy, started))
            .catch(failedRound)));
          return new Map(pair.map((candidate, i) => [candidate, samples[i] ?? { error: 'no sample' }]));
        },
        finish: async () => {
          await fleet.stopAll();
          await nginx.stop();
        },
      };
    },
  };
}
