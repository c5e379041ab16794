// Fault 6, resets mid-transfer. Connections move data both ways without pause; then one side
// aborts with a RST (socket.resetAndDestroy()). The proxy must free both sockets of every pair
// (its descriptors return to the baseline) and the other side must see its connection end (FIN
// or reset) promptly, not hang. Go's docker-proxy turns a reset into a FIN towards the other
// side (docs/design/engine-contract.md §3), so either is accepted here.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pollUntil, withTimeout } from '../helpers/timeout.ts';
import { startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { killFaultProxies, startFaultProxy } from './helpers/proxy.ts';
import { DATA_PATHS, MiB, V4, size, type DataPathName, CONTAINER } from './helpers/settings.ts';
import { atBaseline, baselineAfter, fdKinds, type FdKinds } from './helpers/sysinfo.ts';
import { fmt, quantile } from '../helpers/stats.ts';
import { drain, flood, type Drain } from '../helpers/keystream.ts';
import { connectTcp, echoOnce, peerGone } from '../helpers/client.ts';

const CONNECTIONS = size(8, 32);
/** Each direction of each connection has moved at least this much before the reset. */
const BEFORE_RESET = 1 * MiB;
/** Far more than is ever sent: the transfer is still going when the reset comes. */
const ENDLESS = 64 * 1024 * MiB;
const PROMPT_MS = 2_000;
const POOL_FDS = 32;

const backends: TcpBackend[] = [];
after(async () => {
  await killFaultProxies();
  await Promise.all(backends.map((b) => b.close()));
});

type Side = 'client' | 'container';

interface Pair {
  readonly client: net.Socket;
  readonly container: net.Socket;
  readonly atClient: Drain;
  readonly atContainer: Drain;
}

interface Observed {
  readonly endMs: number[];
  readonly hung: number;
  readonly baseline: FdKinds;
  readonly final: FdKinds;
  readonly settleMs: number;
  readonly alive: boolean;
}

async function resetMidTransfer(dataPath: DataPathName, resetter: Side): Promise<Observed> {
  const backend = await startTcpBackend(V4, () => undefined, CONTAINER); // each connection is driven by the test
  backends.push(backend);
  const proxy = await startFaultProxy({ proto: 'tcp', containerPort: backend.port, dataPath });
  const baseline = await baselineAfter(proxy.pid, async () => {
    const accepted = backend.nextConnection();
    const warm = await connectTcp(V4, proxy.hostPort, { noDelay: true });
    const echoing = await withTimeout(accepted, 5_000, 'the container to accept');
    echoing.pipe(echoing);
    warm.end();
    await withTimeout(drain(warm).done, 5_000, 'the warm-up connection');
    warm.destroy();
  });

  const pairs: Pair[] = [];
  try {
    for (let i = 0; i < CONNECTIONS; i += 1) {
      const accepted = backend.nextConnection();
      const client = await connectTcp(V4, proxy.hostPort, { noDelay: true });
      const container = await withTimeout(accepted, 5_000, 'the container to accept');
      client.on('error', () => undefined);
      const pair = { client, container, atClient: drain(client), atContainer: drain(container) };
      flood(client, `up ${i}`, ENDLESS, { end: false });
      flood(container, `down ${i}`, ENDLESS, { end: false });
      pairs.push(pair);
    }
    await pollUntil(() => pairs.every((p) => p.atClient.received() >= BEFORE_RESET && p.atContainer.received() >= BEFORE_RESET),
      20_000, `${fmt(BEFORE_RESET / MiB)} MiB each way on every connection`);

    let resetAt = 0;
    const since = (): number => resetAt;
    const others = pairs.map((p) => (resetter === 'client' ? p.container : p.client));
    const ends = others.map((sock) => withTimeout(peerGone(sock, since), PROMPT_MS, 'the other side to see the end').catch(() => Number.NaN));
    resetAt = performance.now();
    for (const p of pairs) (resetter === 'client' ? p.client : p.container).resetAndDestroy();
    const endMs = await Promise.all(ends);
    const settleStart = performance.now();
    try {
      await pollUntil(() => atBaseline(proxy.pid, baseline, POOL_FDS), 10_000, 'descriptors back to the baseline');
    } catch {
      // Reported by its own test, with the numbers.
    }
    const settleMs = performance.now() - settleStart;
    const final = fdKinds(proxy.pid); // before the next connection, which is more sockets for a while
    // Still serving, for the next case and as a check that nothing broke.
    const accepted = backend.nextConnection();
    const echoed = echoOnce(V4, proxy.hostPort, Buffer.from('after resets'), 5_000);
    const echoing = await withTimeout(accepted, 5_000, 'the container to accept');
    echoing.pipe(echoing);
    await echoed;
    return {
      endMs: endMs.filter((ms) => !Number.isNaN(ms)), hung: endMs.filter((ms) => Number.isNaN(ms)).length,
      baseline, final, settleMs, alive: proxy.alive(),
    };
  } finally {
    for (const p of pairs) {
      p.client.destroy();
      p.container.destroy();
    }
  }
}

describe(`resets: ${CONNECTIONS} connections mid-transfer, then a RST from one side`, { timeout: 120_000 }, () => {
  for (const dataPath of DATA_PATHS) {
    for (const resetter of ['client', 'container'] as const) {
      describe(`${dataPath} data path, the ${resetter} resets`, () => {
        let seen: Observed | undefined;
        const observed = (): Observed => {
          if (seen === undefined) throw new Error('the scenario did not run');
          return seen;
        };
        before(async () => {
          seen = await resetMidTransfer(dataPath, resetter);
          const o = observed();
          console.log(`# ${dataPath}, ${resetter} resets: other side saw the end in p50 ${fmt(quantile(o.endMs, 0.5))} ms, `
            + `max ${fmt(Math.max(...o.endMs))} ms, ${o.hung} hung; fds ${JSON.stringify(o.baseline)} -> ${JSON.stringify(o.final)} `
            + `(${fmt(o.settleMs)} ms after)`);
        });

        it(`the other side sees every connection end within ${PROMPT_MS} ms`, () => {
          const o = observed();
          assert.equal(o.hung, 0, `${o.hung} of ${CONNECTIONS} connections did not end within ${PROMPT_MS} ms`);
        });

        it('the proxy frees both sockets of every pair (descriptors back to the baseline)', () => {
          const { baseline, final, alive } = observed();
          assert.ok(alive, 'the proxy exited');
          assert.ok(final.sockets <= baseline.sockets, `sockets ${baseline.sockets} -> ${final.sockets}`);
          assert.ok(final.other <= baseline.other, `other fds ${baseline.other} -> ${final.other}`);
          assert.ok(final.pipes <= baseline.pipes + POOL_FDS, `pipe fds ${baseline.pipes} -> ${final.pipes}`);
        });
      });
    }
  }
});
