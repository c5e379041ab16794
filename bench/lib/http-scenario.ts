// Shared body of the two HTTP scenarios: nginx behind each candidate, wrk in front.
import { TRAFFIC_CANDIDATES } from './candidates.ts';
import { withProxyCpu } from './cpu.ts';
import { Fleet } from './fleet.ts';
import { STATIC_FILE_BYTES, STATIC_PATH, startNginx } from './nginx.ts';
import type { MetricSpec, Scenario, Session } from './scenario.ts';
import { runWrk } from './wrk.ts';

/** wrk connections: 64, as the brief of the suite fixes. */
export const HTTP_CONNECTIONS = 64;

export interface HttpScenarioSpec {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly closeEach: boolean;
  readonly rateMetric: MetricSpec;
}

/** Builds a scenario that reports `rateMetric` (requests/s), p99 latency, CPU per request and errors. */
export function httpScenario(spec: HttpScenarioSpec): Scenario {
  return {
    name: spec.name,
    title: spec.title,
    description: `${spec.description} nginx (1 worker) serves a ${STATIC_FILE_BYTES}-byte static file; `
      + `wrk -t1 -c${HTTP_CONNECTIONS} --latency. Proxy CPU is utime+stime of the proxy tree per request.`,
    metrics: [
      spec.rateMetric,
      { key: 'p99_ms', label: 'p99 latency', unit: 'ms', better: 'lower' },
      { key: 'cpu_us_per_req', label: 'proxy CPU per request', unit: 'µs', better: 'lower' },
      { key: 'errors', label: 'wrk socket errors + non-2xx', unit: 'count', better: 'lower' },
    ],
    candidates: TRAFFIC_CANDIDATES,
    async prepare(settings, candidates): Promise<Session> {
      const nginx = await startNginx();
      const fleet = new Fleet(settings, 'tcp', nginx.port);
      await fleet.startAll(candidates);
      return {
        measure: (candidate) => fleet.measure(candidate, async (proxy) => {
          const url = `http://127.0.0.1:${proxy.port}${STATIC_PATH}`;
          const { result, cpuSeconds } = await withProxyCpu(proxy,
            () => runWrk(url, settings.seconds, HTTP_CONNECTIONS, spec.closeEach));
          if (result.requests <= 0) throw new Error('wrk completed no request');
          const sample: Record<string, number> = {
            [spec.rateMetric.key]: result.requestsPerSecond, p99_ms: result.p99Ms, errors: result.errors,
          };
          if (cpuSeconds !== undefined) sample.cpu_us_per_req = (cpuSeconds * 1e6) / result.requests;
          return sample;
        }),
        finish: async () => {
          await fleet.stopAll();
          await nginx.stop();
        },
      };
    },
  };
}
