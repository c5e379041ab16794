// Scenario 5b: how often an idle proxy wakes up. One proxy per candidate runs at the same
// time; voluntary context switches over all threads are counted over the same 10 s window.
import type { Candidate, RunningProxy } from './lib/candidates.ts';
import { startCandidate } from './lib/candidates.ts';
import { osChosenPort } from '../test/helpers/ports.ts';
import { LOOPBACK } from '../test/helpers/net.ts';
import { contextSwitches } from './lib/procfs.ts';
import type { Scenario, Session, Sample } from './lib/scenario.ts';
import { sleep } from './lib/wait.ts';

// Long enough for V8's one-off post-start-up garbage collections (its memory reducer) to be
// over: what remains is periodic, which is what an idle proxy must not have (issue: footprint).
const SETTLE_MS = 20_000;
const WINDOW_MS = 10_000;

export const idleWakeups: Scenario = {
  name: 'idle-wakeups',
  title: 'Idle wake-ups',
  description: `One TCP proxy of each candidate is started; ${SETTLE_MS / 1000} s after the last is ready, voluntary `
    + `context switches summed over all threads of each (/proc/PID/task/*/status) are counted over the same `
    + `${WINDOW_MS / 1000} s window with no traffic. The settle time lets the one-off garbage collections V8 runs `
    + 'in the first seconds after start-up pass, so the window shows periodic wake-ups only (timers, monitors).',
  metrics: [
    { key: 'vcsw_10s', label: 'voluntary context switches in 10 s idle', unit: 'count', better: 'lower' },
    { key: 'nvcsw_10s', label: 'involuntary context switches in 10 s idle', unit: 'count', better: 'lower' },
  ],
  candidates: ['ours-splice', 'ours-stream', 'go', 'bare'],
  quickRounds: 1,
  async prepare(settings): Promise<Session> {
    const containerPort = await osChosenPort('tcp', LOOPBACK.v4);
    return {
      async measureRound(candidates: readonly Candidate[]): Promise<Map<Candidate, Sample>> {
        const running = new Map<Candidate, RunningProxy>();
        try {
          for (const candidate of candidates) {
            running.set(candidate, await startCandidate(candidate, { proto: 'tcp', hostPort: await osChosenPort('tcp', LOOPBACK.v4), containerPort }, settings.tools));
          }
          await sleep(SETTLE_MS);
          const pidOf = (proxy: RunningProxy): number => proxy.pid ?? Number.NaN;
          const before = new Map([...running].map(([name, proxy]) => [name, contextSwitches(pidOf(proxy))]));
          await sleep(WINDOW_MS);
          const samples = new Map<Candidate, Sample>();
          for (const [name, proxy] of running) {
            const start = before.get(name);
            const end = contextSwitches(pidOf(proxy));
            if (start === undefined || proxy.died() !== undefined) continue;
            samples.set(name, { vcsw_10s: end.voluntary - start.voluntary, nvcsw_10s: end.involuntary - start.involuntary });
          }
          return samples;
        } finally {
          await Promise.all([...running.values()].map((proxy) => proxy.stop()));
        }
      },
      finish: () => Promise.resolve(),
    };
  },
};
