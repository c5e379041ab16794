// Scenario 1: TCP bulk throughput and proxy CPU per GiB, iperf3 with 1 and with 8 streams.
import { TRAFFIC_CANDIDATES } from './lib/candidates.ts';
import { withProxyCpu } from './lib/cpu.ts';
import { Fleet } from './lib/fleet.ts';
import { runIperfTcp, startIperfServer } from './lib/iperf.ts';
import type { Scenario, Session } from './lib/scenario.ts';

const GIB = 2 ** 30;
const STREAMS = [1, 8] as const;

export const tcpBulk: Scenario = {
  name: 'tcp-bulk',
  title: 'TCP bulk throughput and CPU per GiB',
  description: 'iperf3 client → candidate → iperf3 server, one run with 1 stream and one with 8 (`-P 8`) per round. '
    + 'Throughput is what the server received; CPU is utime+stime of the proxy process tree from /proc/PID/stat '
    + '(for socat including its forked per-connection children) divided by the GiB received.',
  metrics: STREAMS.flatMap((streams) => [
    { key: `gbps_p${streams}`, label: `throughput, ${streams} stream${streams > 1 ? 's' : ''}`, unit: 'Gbit/s', better: 'higher' as const },
    { key: `cpu_per_gib_p${streams}`, label: `proxy CPU per GiB, ${streams} stream${streams > 1 ? 's' : ''}`, unit: 'CPU-s/GiB', better: 'lower' as const },
  ]),
  candidates: TRAFFIC_CANDIDATES,
  async prepare(settings, candidates): Promise<Session> {
    const server = await startIperfServer();
    const fleet = new Fleet(settings, 'tcp', server.port);
    await fleet.startAll(candidates);
    return {
      measure: (candidate) => fleet.measure(candidate, async (proxy) => {
        const sample: Record<string, number> = {};
        for (const streams of STREAMS) {
          const { result, cpuSeconds } = await withProxyCpu(proxy, () => runIperfTcp(proxy.port, settings.seconds, streams));
          if (result.bytes <= 0) throw new Error(`iperf3 -P ${streams} moved no data`);
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
