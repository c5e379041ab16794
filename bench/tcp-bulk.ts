// Scenario 1: TCP bulk throughput and proxy CPU per GiB, iperf3 with 1 and with 8 streams.
import { METRICS_OVERHEAD_ROUNDS, TRAFFIC_CANDIDATES } from './lib/candidates.ts';
import { withProxyCpu } from './lib/cpu.ts';
import { Fleet } from './lib/fleet.ts';
import { type BulkResult, runIperfTcp, startIperfServer } from './lib/iperf.ts';
import { type MetricsWindow, grew, outside } from './lib/metrics-scrape.ts';
import type { Scenario, Session } from './lib/scenario.ts';
import { sumOf } from '../test/helpers/exposition.ts';

const GIB = 2 ** 30;
const STREAMS = [1, 8] as const;
/** iperf3's control connection and per-stream cookies: a few KiB beyond the data the server counts. */
const CONTROL_SLACK_BYTES = 64 * 1024;

/** What ours-metrics' counters must say about one iperf3 run: every connection, every byte. */
export function bulkCounterErrors(window: MetricsWindow, result: BulkResult, streams: number): string[] {
  const forwarded = grew(window, 'docker_proxy_bytes_total', { direction: 'host_to_container' });
  return [
    // -P N opens N data connections plus the control connection.
    outside(`connections_total growth over iperf3 -P ${streams}`, grew(window, 'docker_proxy_connections_total'), streams + 1, streams + 1),
    // At least what the server counted, at most what the client wrote (the server stops counting at the end of the test).
    outside(`bytes_total{host_to_container} growth over iperf3 -P ${streams} (client sent ${result.sentBytes}, server counted ${result.bytes})`,
      forwarded, result.bytes, result.sentBytes + CONTROL_SLACK_BYTES),
    outside('connections_active after the load', sumOf(window.after, 'docker_proxy_connections_active'), 0, 0),
  ].filter((each) => each !== undefined);
}

export const tcpBulk: Scenario = {
  name: 'tcp-bulk',
  title: 'TCP bulk throughput and CPU per GiB',
  description: 'iperf3 client → candidate → iperf3 server, one run with 1 stream and one with 8 (`-P 8`) per round. '
    + 'Throughput is what the server received; CPU is utime+stime of the proxy process tree from /proc/PID/stat '
    + '(for socat including its forked per-connection children) divided by the GiB received. `ours-metrics` is '
    + '`ours-splice` with DOCKER_PROXY_METRICS_ADDR set and GET /metrics scraped every second during each run; its '
    + 'counters must match what iperf3 moved.',
  metrics: STREAMS.flatMap((streams) => [
    { key: `gbps_p${streams}`, label: `throughput, ${streams} stream${streams > 1 ? 's' : ''}`, unit: 'Gbit/s', better: 'higher' as const },
    { key: `cpu_per_gib_p${streams}`, label: `proxy CPU per GiB, ${streams} stream${streams > 1 ? 's' : ''}`, unit: 'CPU-s/GiB', better: 'lower' as const },
  ]),
  candidates: TRAFFIC_CANDIDATES,
  pairedRounds: METRICS_OVERHEAD_ROUNDS,
  async prepare(settings, candidates): Promise<Session> {
    const server = await startIperfServer();
    const fleet = new Fleet(settings, 'tcp', server.port);
    await fleet.startAll(candidates);
    return {
      measure: (candidate) => fleet.measure(candidate, async (proxy) => {
        const sample: Record<string, number> = {};
        for (const streams of STREAMS) {
          const { result, cpuSeconds, metrics } = await withProxyCpu(proxy, () => runIperfTcp(proxy.port, settings.seconds, streams));
          if (result.bytes <= 0) throw new Error(`iperf3 -P ${streams} moved no data`);
          if (metrics !== undefined) for (const error of bulkCounterErrors(metrics, result, streams)) settings.problem(candidate, error);
          sample[`gbps_p${streams}`] = result.bitsPerSecond / 1e9;
          if (cpuSeconds !== undefined) sample[`cpu_per_gib_p${streams}`] = cpuSeconds / (result.bytes / GIB);
        }
        return sample;
      }),
      finish: async () => {
        await fleet.stopAll();
        await server.stop();
      },
    };
  },
};
