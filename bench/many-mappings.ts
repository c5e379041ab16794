// Scenario 7: many mappings in one process. One process of ours serves 1000 TCP and 10 UDP
// mappings (`-p` ranges); its footprint and start-up, against the Go docker-proxy run the way
// dockerd runs it (one process per mapping), and its forwarding through one of the 1010
// mappings against a single-mapping ours-splice process in the same round.
import { type Candidate, type RunningProxy, StartError, loggedDataPath, publishSpec, startCandidate, startOurs } from './lib/candidates.ts';
import { withProxyCpu } from './lib/cpu.ts';
import { DEEP_BACKLOG, echo, startTcpBackend, startUdpBackend } from '../test/helpers/backends.ts';
import { HTTP_CONNECTIONS } from './lib/http-scenario.ts';
import { startIperfServer, runIperfTcp } from './lib/iperf.ts';
import { STATIC_PATH, startNginx } from './lib/nginx.ts';
import { boundCount, osChosenPort, reserveRange } from '../test/helpers/ports.ts';
import { LOOPBACK } from '../test/helpers/net.ts';
import { ownMemory, treeMemory } from './lib/procfs.ts';
import { progress } from './lib/progress.ts';
import type { Exit } from './lib/procs.ts';
import { type RoundResult, failedRound } from './lib/results.ts';
import { rotated } from './lib/rounds.ts';
import type { RunSettings, Sample, Scenario, Session } from './lib/scenario.ts';
import { verifyEcho } from './lib/verify.ts';
import { sleep } from './lib/wait.ts';
import { runWrk } from './lib/wrk.ts';

const TCP_MAPPINGS = 1000;
const UDP_MAPPINGS = 10;
const MAPPINGS = TCP_MAPPINGS + UDP_MAPPINGS;
/**
 * Go processes per round: all 1010 in full mode (about 20 s to start on 2 CPUs); in quick mode
 * one in ten (100 TCP + 1 UDP), whose sums are multiplied by 10: an extrapolation.
 */
const GO_FLEET = { full: MAPPINGS, quick: MAPPINGS / 10 } as const;
/** Let start-up work (lazy compilation, first GCs) finish before memory is read, as startup-memory does. */
const SETTLE_MS = 1500;
const STREAMS = [1, 8] as const;
const GIB = 2 ** 30;
const MIB = 2 ** 20;

function describeExit(exit: Exit): string {
  return exit.signal === null ? `exit status ${String(exit.code)}` : `signal ${exit.signal}`;
}

/** The two `-p` specs: 1000 TCP host ports onto one container port, 10 UDP ones onto another. */
function manyArgs(tcpStart: number, udpStart: number, tcpBackend: number, udpBackend: number): string[] {
  return ['-p', publishSpec('tcp', `${tcpStart}-${tcpStart + TCP_MAPPINGS - 1}`, tcpBackend),
    '-p', publishSpec('udp', `${udpStart}-${udpStart + UDP_MAPPINGS - 1}`, udpBackend)];
}

interface ManyProxy {
  readonly proxy: RunningProxy;
  readonly tcpStart: number;
  readonly udpStart: number;
}

/**
 * Starts our proxy with 1010 mappings on freshly probed port ranges, traffic going to host port
 * tcpStart + `trafficOffset`; checks that all 1010 ports are bound. Retries when a port of the
 * ranges was taken between the probe and the proxy's bind (start-up is atomic: nothing stays bound).
 */
async function startMany(settings: RunSettings, tcpBackend: number, udpBackend: number, trafficOffset: number): Promise<ManyProxy> {
  for (let attempt = 1; ; attempt++) {
    const tcpStart = await reserveRange(TCP_MAPPINGS, 'tcp', LOOPBACK.v4);
    const udpStart = await reserveRange(UDP_MAPPINGS, 'udp', LOOPBACK.v4, [[tcpStart, TCP_MAPPINGS]]);
    let proxy: RunningProxy;
    try {
      proxy = await startOurs('ours-many', manyArgs(tcpStart, udpStart, tcpBackend, udpBackend), tcpStart + trafficOffset, settings.tools);
    } catch (error) {
      if (attempt < 3 && error instanceof StartError && error.message.includes('address already in use')) continue;
      throw error;
    }
    const tcpBound = boundCount('tcp', tcpStart, TCP_MAPPINGS);
    const udpBound = boundCount('udp', udpStart, UDP_MAPPINGS);
    if (tcpBound !== TCP_MAPPINGS || udpBound !== UDP_MAPPINGS) {
      await proxy.stop();
      throw new Error(`reported ready with ${tcpBound}/${TCP_MAPPINGS} TCP and ${udpBound}/${UDP_MAPPINGS} UDP ports bound`);
    }
    return { proxy, tcpStart, udpStart };
  }
}

/** Stops a proxy with SIGINT as dockerd does, and records anything but a clean exit 0. */
async function stopChecked(settings: RunSettings, candidate: Candidate, proxy: RunningProxy): Promise<void> {
  const alreadyDead = proxy.died();
  const exit = await proxy.stop();
  if (alreadyDead !== undefined) settings.problem(candidate, `died under test (${describeExit(alreadyDead)})`);
  else if (exit !== undefined && (exit.code !== 0 || exit.signal !== null)) {
    settings.problem(candidate, `SIGINT stop ended with ${describeExit(exit)}, dockerd expects status 0`);
  }
}

/**
 * Correctness before timing: the 1010-mapping process echoes through its first, last and a middle
 * TCP mapping and its first and last UDP mapping, to echo backends; a failure stops the scenario.
 */
async function verifyMany(settings: RunSettings): Promise<void> {
  const tcpEcho = await startTcpBackend(LOOPBACK.v4, echo, { backlog: DEEP_BACKLOG });
  const udpEcho = await startUdpBackend(LOOPBACK.v4);
  try {
    const { proxy, tcpStart, udpStart } = await startMany(settings, tcpEcho.port, udpEcho.port, 0);
    try {
      for (const offset of [0, Math.floor(Math.random() * TCP_MAPPINGS), TCP_MAPPINGS - 1]) await verifyEcho('tcp', tcpStart + offset, 2);
      for (const offset of [0, UDP_MAPPINGS - 1]) await verifyEcho('udp', udpStart + offset, 2);
    } catch (error) {
      throw new StartError(`CORRECTNESS FAILURE: ours-many (${MAPPINGS} mappings) echo: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await stopChecked(settings, 'ours-many', proxy);
    }
    const path = loggedDataPath(proxy);
    if (path !== 'splice') settings.problem('ours-many', `asked for the splice data path, it logged dataPath ${path ?? 'nothing'}`);
    progress(`verify ours-many: ${MAPPINGS} mappings bound, echo intact through TCP ${tcpStart}, ${tcpStart + TCP_MAPPINGS - 1} and UDP ${udpStart}, ${udpStart + UDP_MAPPINGS - 1}`);
  } finally {
    await tcpEcho.close();
    await udpEcho.close();
  }
}

/**
 * The Go docker-proxy as dockerd runs it: one process per mapping, started one after another.
 * Start-up is the sum of their spawn-to-"0\n" times; memory the sum of their PSS once all are
 * ready; with fewer than 1010 processes both are scaled up to 1010 (an extrapolation).
 */
async function goFleet(settings: RunSettings, count: number, tcpBackend: number, udpBackend: number): Promise<Sample> {
  const udpCount = Math.max(1, Math.round((count * UDP_MAPPINGS) / MAPPINGS));
  const tcpCount = count - udpCount;
  const tcpStart = await reserveRange(tcpCount, 'tcp', LOOPBACK.v4);
  const udpStart = await reserveRange(udpCount, 'udp', LOOPBACK.v4, [[tcpStart, tcpCount]]);
  const running: RunningProxy[] = [];
  try {
    for (let i = 0; i < tcpCount; i++) {
      running.push(await startCandidate('go', { proto: 'tcp', hostPort: tcpStart + i, containerPort: tcpBackend }, settings.tools));
    }
    for (let i = 0; i < udpCount; i++) {
      running.push(await startCandidate('go', { proto: 'udp', hostPort: udpStart + i, containerPort: udpBackend }, settings.tools));
    }
    await sleep(SETTLE_MS);
    // Go's docker-proxy never forks: its own smaps_rollup is all there is (no /proc walk per process).
    const memory = running.map((proxy) => ownMemory(proxy.pid ?? Number.NaN));
    const dead = running.filter((proxy) => proxy.died() !== undefined).length;
    if (dead > 0) throw new Error(`${dead} of ${running.length} idle Go proxies exited`);
    const scale = MAPPINGS / running.length;
    return {
      startup_ms: running.reduce((sum, proxy) => sum + proxy.readyMs, 0) * scale,
      pss_ready_mib: (memory.reduce((sum, each) => sum + each.pss, 0) * scale) / MIB,
      private_ready_mib: (memory.reduce((sum, each) => sum + each.private, 0) * scale) / MIB,
    };
  } finally {
    const exits = await Promise.all(running.map((proxy) => proxy.stop()));
    const bad = exits.filter((exit) => exit !== undefined && (exit.code !== 0 || exit.signal !== null)).length;
    if (bad > 0) settings.problem('go', `${bad} of ${running.length} Go proxies did not exit 0 on SIGINT`);
  }
}

/** TCP bulk through `proxy`: Gbit/s and CPU per GiB with 1 and 8 streams. */
async function bulk(settings: RunSettings, proxy: RunningProxy): Promise<Record<string, number>> {
  const sample: Record<string, number> = {};
  for (const streams of STREAMS) {
    const { result, cpuSeconds } = await withProxyCpu(proxy, () => runIperfTcp(proxy.port, settings.seconds, streams));
    if (result.bytes <= 0) throw new Error(`iperf3 -P ${streams} moved no data`);
    sample[`gbps_p${streams}`] = result.bitsPerSecond / 1e9;
    if (cpuSeconds !== undefined) sample[`cpu_per_gib_p${streams}`] = cpuSeconds / (result.bytes / GIB);
  }
  return sample;
}

/** HTTP keep-alive through `proxy`: requests/s and CPU per request. */
async function keepalive(settings: RunSettings, proxy: RunningProxy): Promise<Record<string, number>> {
  const url = `http://127.0.0.1:${proxy.port}${STATIC_PATH}`;
  const { result, cpuSeconds } = await withProxyCpu(proxy, () => runWrk(url, settings.seconds, HTTP_CONNECTIONS, false));
  if (result.requests <= 0) throw new Error('wrk completed no request');
  if (result.errors > 0) throw new Error(`wrk saw ${result.errors} socket errors or non-2xx responses`);
  const sample: Record<string, number> = { rps: result.requestsPerSecond };
  if (cpuSeconds !== undefined) sample.cpu_us_per_req = (cpuSeconds * 1e6) / result.requests;
  return sample;
}

export const manyMappings: Scenario = {
  name: 'many-mappings',
  title: 'Many mappings in one process',
  description: `One process of ours (\`ours-many\`) serves ${TCP_MAPPINGS} TCP and ${UDP_MAPPINGS} UDP mappings: `
    + `\`-p 127.0.0.1:A-A+${TCP_MAPPINGS - 1}:127.0.0.1:B -p 127.0.0.1:U-U+${UDP_MAPPINGS - 1}:127.0.0.1:C/udp\`, on consecutive `
    + 'port ranges probed free at run time below the kernel\'s ephemeral range, started afresh each round. Start-up is spawn to '
    + `"0\\n" on fd 3 with all ${MAPPINGS} ports bound (checked in /proc/net); PSS and private memory (smaps_rollup) are read `
    + `${SETTLE_MS / 1000} s after ready and again after the traffic. \`go\` is the Go docker-proxy as dockerd runs it, one process `
    + `per mapping, started one after another: its start-up is the sum of their start-ups, its memory the sum over the processes `
    + `(full mode: all ${MAPPINGS}; quick mode: ${GO_FLEET.quick}, summed ×${MAPPINGS / GO_FLEET.quick}, an extrapolation). `
    + '`ours-splice` is one process with one mapping to B, running beside `ours-many` (so both share Node\'s pages alike): '
    + 'the forwarding columns compare iperf3 (1 and 8 streams) and wrk keep-alive (nginx, as in http-keepalive) through one '
    + 'of the 1010 mappings, a different one each round, with the same through the single mapping, alternating. B is served '
    + 'by iperf3, then by nginx, in turn.',
  metrics: [
    { key: 'startup_ms', label: 'start-up to ready, all its mappings', unit: 'ms', better: 'lower' },
    { key: 'pss_ready_mib', label: 'PSS once ready', unit: 'MiB', better: 'lower' },
    { key: 'private_ready_mib', label: 'private memory once ready', unit: 'MiB', better: 'lower' },
    { key: 'pss_after_mib', label: 'PSS after the traffic', unit: 'MiB', better: 'lower' },
    ...STREAMS.flatMap((streams) => [
      { key: `gbps_p${streams}`, label: `throughput, ${streams} stream${streams > 1 ? 's' : ''}`, unit: 'Gbit/s', better: 'higher' as const },
      { key: `cpu_per_gib_p${streams}`, label: `proxy CPU per GiB, ${streams} stream${streams > 1 ? 's' : ''}`, unit: 'CPU-s/GiB', better: 'lower' as const },
    ]),
    { key: 'rps', label: 'keep-alive requests/s', unit: 'req/s', better: 'higher' },
    { key: 'cpu_us_per_req', label: 'proxy CPU per request', unit: 'µs', better: 'lower' },
  ],
  candidates: ['ours-many', 'ours-splice', 'go'],
  ratioRows: [['ours-many', 'go'], ['ours-many', 'ours-splice']],
  quickRounds: 1,
  // The forwarding goal allows 5 %: in full mode ours-many and ours-splice run twice the rounds (Go's 1010 processes once).
  pairedRounds: { candidates: ['ours-many', 'ours-splice'], factor: 2 },
  async prepare(settings, candidates): Promise<Session> {
    if (candidates.includes('ours-many')) await verifyMany(settings);
    const goCount = settings.quick ? GO_FLEET.quick : GO_FLEET.full;
    // B: iperf3 and nginx take turns on it; C: nothing listens (the UDP mappings stay idle).
    const tcpBackend = await osChosenPort('tcp+udp', LOOPBACK.v4);
    const udpBackend = await osChosenPort('tcp+udp', LOOPBACK.v4);
    return {
      async measureRound(chosen: readonly Candidate[], round: number): Promise<Map<Candidate, RoundResult>> {
        const results = new Map<Candidate, RoundResult>();
        const samples = new Map<Candidate, Record<string, number>>();
        const fail = (candidate: Candidate, error: unknown): void => {
          samples.delete(candidate);
          results.set(candidate, failedRound(error));
        };
        if (chosen.includes('go')) {
          results.set('go', await goFleet(settings, goCount, tcpBackend, udpBackend).catch(failedRound));
        }
        const proxies = new Map<Candidate, RunningProxy>();
        try {
          if (chosen.includes('ours-many')) {
            // A different mapping carries the traffic each round.
            const offset = (round * 389) % TCP_MAPPINGS;
            try {
              const { proxy } = await startMany(settings, tcpBackend, udpBackend, offset);
              proxies.set('ours-many', proxy);
            } catch (error) {
              fail('ours-many', error);
            }
          }
          if (chosen.includes('ours-splice')) {
            try {
              proxies.set('ours-splice', await startCandidate('ours-splice', { proto: 'tcp', hostPort: await osChosenPort('tcp', LOOPBACK.v4), containerPort: tcpBackend }, settings.tools));
            } catch (error) {
              fail('ours-splice', error);
            }
          }
          await sleep(SETTLE_MS);
          for (const [candidate, proxy] of proxies) {
            const memory = treeMemory(proxy.pid ?? Number.NaN);
            samples.set(candidate, { startup_ms: proxy.readyMs, pss_ready_mib: memory.pss / MIB, private_ready_mib: memory.private / MIB });
          }
          const order = rotated([...proxies.keys()], round);
          const phase = async (measure: (proxy: RunningProxy) => Promise<Record<string, number>>): Promise<void> => {
            for (const candidate of order) {
              const proxy = proxies.get(candidate);
              const sample = samples.get(candidate);
              if (proxy === undefined || sample === undefined) continue;
              try {
                Object.assign(sample, await measure(proxy));
                const died = proxy.died();
                if (died !== undefined) throw new Error(`died during the measurement (${describeExit(died)})`);
              } catch (error) {
                fail(candidate, error);
              }
            }
          };
          const iperf = await startIperfServer(tcpBackend);
          try {
            await phase((proxy) => bulk(settings, proxy));
          } finally {
            await iperf.stop();
          }
          const nginx = await startNginx(tcpBackend);
          try {
            await phase((proxy) => keepalive(settings, proxy));
          } finally {
            await nginx.stop();
          }
          await sleep(SETTLE_MS);
          for (const [candidate, proxy] of proxies) {
            const sample = samples.get(candidate);
            if (sample !== undefined) sample.pss_after_mib = treeMemory(proxy.pid ?? Number.NaN).pss / MIB;
          }
        } finally {
          for (const [candidate, proxy] of proxies) await stopChecked(settings, candidate, proxy);
        }
        for (const [candidate, sample] of samples) results.set(candidate, sample);
        return results;
      },
      notes: () => [
        settings.quick
          ? `go: quick mode started ${goCount} Go processes (${goCount - 1} TCP + 1 UDP) per round; its start-up and memory are their sums ×${MAPPINGS / goCount}, an EXTRAPOLATION to ${MAPPINGS} mappings (with all ${MAPPINGS} running, the binary's shared pages are split more ways, so the real sum is a few per cent lower).`
          : `go: all ${MAPPINGS} Go processes (${TCP_MAPPINGS} TCP + ${UDP_MAPPINGS} UDP) were started each round and measured: no extrapolation.`,
        `ours-splice serves 1 mapping: its start-up and memory are for context; the targets compare ours-many's forwarding with it.`,
      ],
      finish: () => Promise.resolve(),
    };
  },
};
