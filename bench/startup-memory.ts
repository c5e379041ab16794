// Scenario 5a: start-up time to "0\n" on fd 3 and idle memory per proxy with N running, against
// the Go proxy and a bare Node listener (idle wake-ups are in idle-wakeups.ts).
import type { Candidate, RunningProxy } from './lib/candidates.ts';
import { startCandidate } from './lib/candidates.ts';
import { osChosenPort } from '../test/helpers/ports.ts';
import { LOOPBACK } from '../test/helpers/net.ts';
import { treeMemory } from './lib/procfs.ts';
import type { Scenario, Session } from './lib/scenario.ts';
import { sleep } from './lib/wait.ts';
import { median } from '../test/helpers/stats.ts';

/** Proxies started per candidate and round. */
export const PROXIES_PER_ROUND = 30;
/**
 * In quick mode: starting 360 Node processes one after another took over 2 minutes of the 5 on a
 * loaded 2-CPU machine. With 10 running instead of 30, Node's shared pages are split fewer ways,
 * so PSS per proxy reads slightly higher (for ours and bare alike).
 */
export const PROXIES_PER_QUICK_ROUND = 10;
/** Let start-up work (lazy compilation, first GCs) finish before memory is read. */
const SETTLE_MS = 1500;
const MIB = 2 ** 20;

export const startupMemory: Scenario = {
  name: 'startup-memory',
  title: 'Start-up time and idle footprint',
  description: `Per round and candidate, ${PROXIES_PER_ROUND} TCP proxies (${PROXIES_PER_QUICK_ROUND} in quick mode) are started one after another, each timed from `
    + 'spawn to "0\\n" on its fd 3 pipe (the handshake dockerd waits for). With all of them running and idle, '
    + `after ${SETTLE_MS / 1000} s, PSS and private memory (/proc/PID/smaps_rollup) are summed and divided by the count. `
    + 'Every candidate is started as dockerd starts it: stdout and stderr on /dev/null, DOCKER_PROXY_* only as the candidate asks. '
    + '`bare` is a dependency-free Node listener (bench/lib/bare-listener.cjs): the floor for any Node proxy.',
  metrics: [
    { key: 'startup_ms', label: 'start-up to ready (median of the round)', unit: 'ms', better: 'lower' },
    { key: 'pss_mib', label: 'idle PSS per proxy', unit: 'MiB', better: 'lower' },
    { key: 'private_mib', label: 'idle private memory per proxy', unit: 'MiB', better: 'lower' },
  ],
  candidates: ['ours-splice', 'ours-stream', 'go', 'bare'],
  async prepare(settings): Promise<Session> {
    // Nothing listens here: idle proxies never dial it.
    const containerPort = await osChosenPort('tcp', LOOPBACK.v4);
    return {
      async measure(candidate: Candidate): Promise<Record<string, number>> {
        const running: RunningProxy[] = [];
        try {
          const count = settings.quick ? PROXIES_PER_QUICK_ROUND : PROXIES_PER_ROUND;
          for (let i = 0; i < count; i++) {
            const hostPort = await osChosenPort('tcp', LOOPBACK.v4);
            running.push(await startCandidate(candidate, { proto: 'tcp', hostPort, containerPort }, settings.tools, { asDockerd: true }));
          }
          await sleep(SETTLE_MS);
          const pids = running.flatMap((proxy) => (proxy.pid === undefined ? [] : [proxy.pid]));
          const memory = pids.map(treeMemory);
          for (const proxy of running) {
            const died = proxy.died();
            if (died !== undefined) throw new Error(`an idle ${candidate} proxy exited (status ${String(died.code)})`);
          }
          return {
            startup_ms: median(running.map((proxy) => proxy.readyMs)) ?? Number.NaN,
            pss_mib: memory.reduce((sum, each) => sum + each.pss, 0) / pids.length / MIB,
            private_mib: memory.reduce((sum, each) => sum + each.private, 0) / pids.length / MIB,
          };
        } finally {
          const exits = await Promise.all(running.map((proxy) => proxy.stop()));
          for (const exit of exits) {
            if (exit !== undefined && (exit.code !== 0 || exit.signal !== null)) {
              settings.problem(candidate, `SIGINT stop of an idle proxy ended with status ${String(exit.code)} / ${String(exit.signal)}`);
            }
          }
        }
      },
      finish: () => Promise.resolve(),
    };
  },
};
