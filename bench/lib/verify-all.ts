// Runs the echo check through every candidate, TCP and UDP, before anything is timed.
import { type Candidate, StartError, type Toolbox, loggedDataPath, startCandidate } from './candidates.ts';
import { DEEP_BACKLOG, echo, startTcpBackend, startUdpBackend } from '../../test/helpers/backends.ts';
import { osChosenPort } from '../../test/helpers/ports.ts';
import { LOOPBACK } from '../../test/helpers/net.ts';
import { progress } from './progress.ts';
import { verifyEcho } from './verify.ts';
import { scrape, sumOf } from '../../test/helpers/exposition.ts';

/** The endpoint answers, and counted the echo that just went through. */
async function verifyMetrics(port: number, proto: 'tcp' | 'udp'): Promise<void> {
  const series = await scrape(port);
  const bytes = sumOf(series, 'docker_proxy_bytes_total', { direction: 'host_to_container' });
  if (sumOf(series, 'docker_proxy_build_info') !== 1 || bytes <= 0) {
    throw new Error(`GET /metrics: build_info ${sumOf(series, 'docker_proxy_build_info')}, ${proto} bytes_total{host_to_container} ${bytes} after the echo`);
  }
}

/**
 * Throws, naming the candidate and protocol, at the first echo that does not come back intact.
 * Returns the TCP data path each of our variants logged that it runs.
 */
export async function verifyAll(candidates: readonly Candidate[], tools: Toolbox): Promise<Record<string, string>> {
  const dataPaths: Record<string, string> = {};
  const backends = { tcp: await startTcpBackend(LOOPBACK.v4, echo, { backlog: DEEP_BACKLOG }), udp: await startUdpBackend(LOOPBACK.v4) };
  try {
    for (const candidate of candidates) {
      // The bare listener is TCP-only by design.
      const protos = candidate === 'bare' ? (['tcp'] as const) : (['tcp', 'udp'] as const);
      for (const proto of protos) {
        const mapping = { proto, hostPort: await osChosenPort(proto === 'udp' ? 'tcp+udp' : 'tcp', LOOPBACK.v4), containerPort: backends[proto].port };
        const proxy = await startCandidate(candidate, mapping, tools);
        try {
          // socat's UDP-LISTEN,fork hands every datagram queued before its fork to the first
          // client's child, so concurrent new flows get mixed up (bench/README.md): one client.
          await verifyEcho(proto, proxy.port, candidate === 'socat' ? 1 : 2);
          if (proxy.metricsPort !== undefined) await verifyMetrics(proxy.metricsPort, proto);
        } catch (error) {
          throw new StartError(`CORRECTNESS FAILURE: ${candidate} ${proto} echo: ${error instanceof Error ? error.message : String(error)}`);
        } finally {
          await proxy.stop();
        }
        // Read after the stop: the start-up line is written after "0\n" and may sit in a buffer until exit.
        if (proto === 'tcp' && candidate.startsWith('ours-')) dataPaths[candidate] = loggedDataPath(proxy) ?? 'not logged';
        progress(`verify ${candidate} ${proto}: echo intact`);
      }
    }
  } finally {
    await backends.tcp.close();
    await backends.udp.close();
  }
  return dataPaths;
}
