// Fault 7, the container restarts: its server stops (open connections die with it) and comes back
// on the same port, several times, while the same proxy keeps running. Connections open at the
// stop must end promptly; connections made during the gap must fail promptly (the proxy accepts,
// cannot dial, closes: docs/design/engine-contract.md §3), never hang; after each restart new connections succeed, and the
// proxy ends with the descriptors it started with.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pollUntil, withTimeout } from '../helpers/timeout.ts';
import { echo, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { killFaultProxies, startFaultProxy } from './helpers/proxy.ts';
import { DATA_PATHS, V4, size, type DataPathName, CONTAINER } from './helpers/settings.ts';
import { atBaseline, baselineAfter, fdKinds, type FdKinds } from './helpers/sysinfo.ts';
import { fmt } from '../helpers/stats.ts';
import { connectTcp, echoOnce, peerGone, readExactly } from '../helpers/client.ts';

const RESTARTS = size(3, 10);
const GAP_ATTEMPTS = 5;
const PROMPT_MS = 2_000;
const POOL_FDS = 32;

let current: TcpBackend | undefined;
after(async () => {
  await killFaultProxies();
  await current?.close();
});

/** Replaces the running container (closing the old one) by `next`. */
async function replaceContainer(next: () => Promise<TcpBackend>): Promise<TcpBackend> {
  await current?.close();
  current = undefined;
  current = await next();
  return current;
}

/** Starts the echo container on `port`, retrying while the port is briefly unavailable. */
async function startOn(port: number): Promise<TcpBackend> {
  let backend: TcpBackend | undefined;
  let lastError = '';
  await pollUntil(async () => {
    try {
      backend = await startTcpBackend(V4, echo, { ...CONTAINER, port });
      return true;
    } catch (error) {
      lastError = String(error);
      return false;
    }
  }, 5_000, `the container to listen again on port ${port} (${lastError})`, 50);
  if (backend === undefined) throw new Error('unreachable');
  return backend;
}

/** How a connection made while the container is down ends: ms until EOF/reset, or 'served'. */
async function attemptInGap(port: number): Promise<number | 'served' | 'hung'> {
  const start = performance.now();
  let sock: net.Socket | undefined;
  try {
    sock = await connectTcp(V4, port, { ms: PROMPT_MS, noDelay: true });
    sock.on('error', () => undefined);
    sock.write('anyone there?');
    await readExactly(sock, 1, PROMPT_MS, 'a reply during the gap');
    return 'served';
  } catch (error) {
    return String(error).includes('timed out') ? 'hung' : performance.now() - start;
  } finally {
    sock?.destroy();
  }
}

interface Observed {
  readonly liveEndMs: number[];
  readonly gap: Array<number | 'served' | 'hung'>;
  readonly firstAfterRestartMs: number[];
  readonly baseline: FdKinds;
  readonly final: FdKinds;
  readonly alive: boolean;
}

async function restartRepeatedly(dataPath: DataPathName): Promise<Observed> {
  const { port } = await replaceContainer(() => startTcpBackend(V4, echo, CONTAINER));
  const proxy = await startFaultProxy({ proto: 'tcp', containerPort: port, dataPath });
  const baseline = await baselineAfter(proxy.pid, () => echoOnce(V4, proxy.hostPort, Buffer.from('warm up'), 5_000));
  const liveEndMs: number[] = [];
  const gap: Array<number | 'served' | 'hung'> = [];
  const firstAfterRestartMs: number[] = [];
  for (let round = 0; round < RESTARTS; round += 1) {
    const live = await connectTcp(V4, proxy.hostPort, { noDelay: true });
    live.on('error', () => undefined);
    try {
      const echoed = readExactly(live, 4, 5_000, 'echo on the live connection');
      live.write('live');
      await echoed;
      // The container stops: its connections die with it.
      let stoppedAt = 0;
      const ended = withTimeout(peerGone(live, () => stoppedAt), PROMPT_MS, 'the live connection to end when the container stops')
        .catch(() => Number.NaN);
      stoppedAt = performance.now();
      await current?.close();
      current = undefined;
      liveEndMs.push(await ended);
    } finally {
      live.destroy();
    }
    for (let i = 0; i < GAP_ATTEMPTS; i += 1) gap.push(await attemptInGap(proxy.hostPort));
    await replaceContainer(() => startOn(port));
    const restarted = performance.now();
    await echoOnce(V4, proxy.hostPort, Buffer.from(`round ${round}`), 5_000);
    firstAfterRestartMs.push(performance.now() - restarted);
  }
  try {
    await pollUntil(() => atBaseline(proxy.pid, baseline, POOL_FDS), 10_000, 'descriptors back to the baseline');
  } catch {
    // Reported by its own test, with the numbers.
  }
  return { liveEndMs, gap, firstAfterRestartMs, baseline, final: fdKinds(proxy.pid), alive: proxy.alive() };
}

describe(`container restarts: the container stops and comes back on the same port, ${RESTARTS} times`, { timeout: 120_000 }, () => {
  for (const dataPath of DATA_PATHS) {
    describe(`${dataPath} data path`, () => {
      let seen: Observed | undefined;
      const observed = (): Observed => {
        if (seen === undefined) throw new Error('the scenario did not run');
        return seen;
      };
      before(async () => {
        seen = await restartRepeatedly(dataPath);
        const o = observed();
        const failMs = o.gap.filter((g): g is number => typeof g === 'number');
        console.log(`# ${dataPath}: live connections ended in ≤ ${fmt(Math.max(...o.liveEndMs))} ms; gap attempts failed in `
          + `≤ ${fmt(Math.max(...failMs))} ms (${o.gap.length - failMs.length} not failing); first echo after restart ≤ `
          + `${fmt(Math.max(...o.firstAfterRestartMs))} ms; fds ${JSON.stringify(o.baseline)} -> ${JSON.stringify(o.final)}`);
      });

      it(`connections open at the stop end within ${PROMPT_MS} ms`, () => {
        const o = observed();
        assert.ok(o.liveEndMs.every((ms) => !Number.isNaN(ms)), `some live connections hung: ${JSON.stringify(o.liveEndMs)}`);
      });

      it(`connections during the gap fail promptly (EOF or reset within ${PROMPT_MS} ms), never hang`, () => {
        const o = observed();
        assert.deepEqual(o.gap.filter((g) => typeof g !== 'number'), [], `gap outcomes: ${JSON.stringify(o.gap)}`);
      });

      it('new connections succeed after every restart without restarting the proxy', () => {
        const o = observed();
        assert.ok(o.alive, 'the proxy exited');
        assert.equal(o.firstAfterRestartMs.length, RESTARTS);
      });

      it('descriptors return to the baseline', () => {
        const { baseline, final } = observed();
        assert.ok(final.sockets <= baseline.sockets, `sockets ${baseline.sockets} -> ${final.sockets}`);
        assert.ok(final.other <= baseline.other, `other fds ${baseline.other} -> ${final.other}`);
        assert.ok(final.pipes <= baseline.pipes + POOL_FDS, `pipe fds ${baseline.pipes} -> ${final.pipes}`);
      });
    });
  }
});
