// Scenario 4: UDP delivered packets/s, loss and proxy CPU per packet at 64 and 1400 bytes.
import { METRICS_OVERHEAD_ROUNDS, TRAFFIC_CANDIDATES } from './lib/candidates.ts';
import { withProxyCpu } from './lib/cpu.ts';
import { Fleet } from './lib/fleet.ts';
import { type MetricsWindow, grew, outside } from './lib/metrics-scrape.ts';
import { osChosenPort } from '../test/helpers/ports.ts';
import { LOOPBACK } from '../test/helpers/net.ts';
import type { MetricSpec, Scenario, Session } from './lib/scenario.ts';
import { type UdpResult, runUdpLoad } from './lib/udp-load.ts';

const SIZES = [64, 1400] as const;

/** What ours-metrics' counters must say about one UDP run: between what the sink got and what was sent. */
export function udpCounterErrors(window: MetricsWindow, result: UdpResult, size: number): string[] {
  const received = grew(window, 'docker_proxy_udp_datagrams_total', { direction: 'host_to_container' });
  return [
    outside(`udp_datagrams_total{host_to_container} growth (${result.sent} sent, ${result.delivered} delivered)`,
      received, result.delivered, result.sent),
    // Forwarded bytes: at least what reached the sink, at most what the proxy received.
    outside(`bytes_total{host_to_container} growth over ${size}-byte datagrams`,
      grew(window, 'docker_proxy_bytes_total', { direction: 'host_to_container' }), result.delivered * size, received * size),
    outside('udp_flows_total growth (one new sender socket)', grew(window, 'docker_proxy_udp_flows_total'), 1, 1),
  ].filter((each) => each !== undefined);
}

export const udpPps: Scenario = {
  name: 'udp-pps',
  title: 'UDP packets/s and CPU per packet',
  description: 'One flow: an unpaced Python sender (one `send()` per datagram on a connected socket) → candidate → '
    + 'a counting Python sink on the backend port, for each payload size. Delivered packets/s = datagrams the sink '
    + 'received / send duration; loss = 1 − received/sent; CPU per packet = proxy tree CPU / datagrams delivered. '
    + 'Sender, proxy and sink share the machine, so only ratios within this run mean anything. `ours-metrics` is '
    + '`ours-splice` with GET /metrics scraped every second during each run.',
  metrics: SIZES.flatMap((size): MetricSpec[] => [
    { key: `pps_${size}`, label: `delivered packets/s, ${size} B`, unit: 'pkt/s', better: 'higher' },
    { key: `loss_pct_${size}`, label: `loss, ${size} B`, unit: '%', better: 'lower' },
    { key: `cpu_us_per_pkt_${size}`, label: `proxy CPU per packet, ${size} B`, unit: 'µs', better: 'lower' },
  ]),
  candidates: TRAFFIC_CANDIDATES,
  pairedRounds: METRICS_OVERHEAD_ROUNDS,
  async prepare(settings, candidates): Promise<Session> {
    const sinkPort = await osChosenPort('tcp+udp', LOOPBACK.v4);
    const fleet = new Fleet(settings, 'udp', sinkPort);
    await fleet.startAll(candidates);
    return {
      measure: (candidate) => fleet.measure(candidate, async (proxy) => {
        const sample: Record<string, number> = {};
        for (const size of SIZES) {
          const { result, cpuSeconds, metrics } = await withProxyCpu(proxy,
            () => runUdpLoad(sinkPort, proxy.port, settings.seconds, size));
          if (result.delivered <= 0) throw new Error(`no ${size}-byte datagram reached the sink`);
          if (metrics !== undefined) for (const error of udpCounterErrors(metrics, result, size)) settings.problem(candidate, error);
          sample[`pps_${size}`] = result.delivered / result.seconds;
          sample[`loss_pct_${size}`] = 100 * Math.max(0, 1 - result.delivered / result.sent);
          if (cpuSeconds !== undefined) sample[`cpu_us_per_pkt_${size}`] = (cpuSeconds * 1e6) / result.delivered;
        }
        return sample;
      }),
      finish: () => fleet.stopAll(),
    };
  },
};
