// Scenario 6: memory per idle proxied connection: PSS of the proxy tree before and after
// opening 1000 connections through it to a backend that accepts and then does nothing.
import type net from 'node:net';
import { connectTcp } from '../test/helpers/client.ts';
import type { Candidate } from './lib/candidates.ts';
import { DEEP_BACKLOG, hold, startTcpBackend } from '../test/helpers/backends.ts';
import { LOOPBACK } from '../test/helpers/net.ts';
import { pollUntil } from '../test/helpers/timeout.ts';
import { Fleet } from './lib/fleet.ts';
import { kernelMemoryBytes, settleTree, treeFds, treeMemory } from './lib/procfs.ts';
import type { Scenario, Session } from './lib/scenario.ts';
import { sleep } from './lib/wait.ts';

export const CONNECTIONS = 1000;
const BATCH = 50;
const KIB = 1024;

/** Waits up to 5 s for the proxy's socket fds to fall back to `baseline`; returns how many are left over. */
async function socketsLeftOver(pid: number, baseline: number): Promise<number> {
  const deadline = Date.now() + 5000;
  let excess = treeFds(pid).sockets - baseline;
  while (excess > 0 && Date.now() < deadline) {
    await sleep(100);
    excess = treeFds(pid).sockets - baseline;
  }
  return excess;
}

export const connMemory: Scenario = {
  name: 'conn-memory',
  title: 'Memory per idle proxied connection',
  description: `${CONNECTIONS} TCP connections are opened through a freshly started candidate to a backend that accepts and never `
    + 'reads. Memory per connection = (PSS of the proxy tree with them open − PSS before) / '
    + `${CONNECTIONS}, read from /proc/PID/smaps_rollup 1 s after the last backend accept (for socat the tree `
    + 'includes its forked child per connection). Kernel memory (sockets, pipe rings, kernel stacks and page tables of '
    + "socat's children) is not in PSS, so the delta of the machine's Slab+KernelStack+PageTables is shown next to it: "
    + 'system-wide, it also holds the benchmark\'s own two sockets per connection and any other activity. Fds per connection '
    + 'counts every fd (splice pipes too). After the clients close, the proxy must be back to its baseline of open '
    + '*socket* fds within 5 s, or a possible leak is reported (pipes are not checked: Go and our splice path pool them).',
  metrics: [
    { key: 'kib_per_conn', label: 'PSS per idle connection', unit: 'KiB', better: 'lower' },
    { key: 'kernel_kib_per_conn', label: 'kernel memory per idle connection (system-wide, noisy)', unit: 'KiB', better: 'lower' },
    { key: 'total_kib_per_conn', label: 'PSS + kernel memory per idle connection', unit: 'KiB', better: 'lower' },
    { key: 'fds_per_conn', label: 'proxy fds per idle connection', unit: 'fds', better: 'lower' },
  ],
  candidates: ['ours-splice', 'ours-stream', 'go', 'socat'],
  async prepare(settings, candidates): Promise<Session> {
    const backend = await startTcpBackend(LOOPBACK.v4, hold, { backlog: DEEP_BACKLOG });
    // A fresh proxy each time: a process that already had 1000 connections keeps some of the
    // memory (heap, thread stacks, Go's pipe pool), and the next delta would understate the cost.
    const fleet = new Fleet(settings, 'tcp', backend.port, true);
    await fleet.startAll(candidates);
    return {
      measure: (candidate: Candidate) => fleet.measure(candidate, async (proxy) => {
        const pid = proxy.pid;
        if (pid === undefined) throw new Error('conn-memory needs a proxy process');
        await settleTree(pid);
        const before = treeMemory(pid).pss;
        const kernelBefore = kernelMemoryBytes();
        const fdsBefore = treeFds(pid);
        const clients: net.Socket[] = [];
        try {
          while (clients.length < CONNECTIONS) {
            const batch = Math.min(BATCH, CONNECTIONS - clients.length);
            clients.push(...await Promise.all(Array.from({ length: batch }, () => connectTcp(LOOPBACK.v4, proxy.port))));
          }
          await pollUntil(() => backend.sockets.size >= CONNECTIONS, 30_000, `${CONNECTIONS} backend accepts`);
          await sleep(1000);
          const after = treeMemory(pid).pss;
          const kernelAfter = kernelMemoryBytes();
          const fdsOpen = treeFds(pid).all;
          return {
            kib_per_conn: (after - before) / CONNECTIONS / KIB,
            kernel_kib_per_conn: (kernelAfter - kernelBefore) / CONNECTIONS / KIB,
            total_kib_per_conn: (after - before + kernelAfter - kernelBefore) / CONNECTIONS / KIB,
            fds_per_conn: (fdsOpen - fdsBefore.all) / CONNECTIONS,
          };
        } finally {
          for (const client of clients) client.destroy();
          await pollUntil(() => backend.sockets.size === 0, 30_000, 'the proxy to close its backend connections').catch(() => {
            settings.problem(candidate, `${backend.sockets.size} backend connections still open 30 s after the clients closed`);
          });
          await settleTree(pid);
          const leaked = await socketsLeftOver(pid, fdsBefore.sockets);
          if (leaked > 0) {
            settings.problem(candidate, `${leaked} more open socket fds 5 s after all ${CONNECTIONS} connections closed (possible leak)`);
          }
        }
      }),
      finish: async () => {
        await fleet.stopAll();
        await backend.close();
      },
    };
  },
};
