// Fault 4, backpressure. One side floods (256 MiB offered, 128 MiB in the short run: both far beyond
// the 64 MiB bound; written as fast as its socket drains)
// while the other side does not read. A proxy without backpressure would read everything into
// its own memory; this one must stop reading once the reader's kernel buffers are full, keep its
// RSS within 64 MiB of its baseline, and, once the reader resumes, deliver every byte in order
// (sha256 of what was offered = sha256 of what arrived). Both directions, both data paths.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pollUntil, withTimeout } from '../helpers/timeout.ts';
import { startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { killFaultProxies, startFaultProxy } from './helpers/proxy.ts';
import { DATA_PATHS, MiB, V4, size, type DataPathName, CONTAINER } from './helpers/settings.ts';
import { rssBytes } from './helpers/sysinfo.ts';
import { fmt } from '../helpers/stats.ts';
import { drain, flood, type Flood } from '../helpers/keystream.ts';
import { connectTcp } from '../helpers/client.ts';

const OFFERED = size(128, 256) * MiB;
const RSS_BOUND = 64 * MiB;
/** The flood counts as stalled when it made no progress for this long. */
const QUIET_MS = 500;
const TRANSFER_MS = 60_000;

const backends: TcpBackend[] = [];
after(async () => {
  await killFaultProxies();
  await Promise.all(backends.map((b) => b.close()));
});

type Direction = 'container floods, client stalls' | 'client floods, container stalls';
const DIRECTIONS: readonly Direction[] = ['container floods, client stalls', 'client floods, container stalls'];

interface Observed {
  readonly stalledAt: number;
  readonly baselineRss: number;
  readonly stallPeakRss: number;
  readonly transferPeakRss: number;
  readonly offered: { written: number; sha256: string; error: string | undefined };
  readonly arrived: { bytes: number; sha256: string; error: string | undefined };
  readonly seconds: number;
}

/** Polls until `progress` has not moved for QUIET_MS (or reached OFFERED), sampling the proxy's RSS. */
async function untilStalled(progress: () => number, pid: number): Promise<{ at: number; peakRss: number }> {
  let last = -1;
  let since = performance.now();
  let peakRss = 0;
  await pollUntil(() => {
    peakRss = Math.max(peakRss, rssBytes(pid));
    const now = progress();
    if (now !== last) {
      last = now;
      since = performance.now();
    }
    return now >= OFFERED || performance.now() - since >= QUIET_MS;
  }, 30_000, 'the flood to stall or finish', 25);
  return { at: last, peakRss };
}

async function floodAgainstStalledReader(dataPath: DataPathName, direction: Direction): Promise<Observed> {
  const seed = `${dataPath}/${direction}`;
  const containerFloods = direction.startsWith('container');
  let containerFlood: Flood | undefined;
  let connections = 0;
  const backend = await startTcpBackend(V4, (sock) => {
    connections += 1;
    if (connections === 1) sock.pipe(sock); // the warm-up connection: an echo
    else if (containerFloods) containerFlood = flood(sock, seed, OFFERED);
    else sock.pause(); // the container stops reading
  }, CONTAINER);
  backends.push(backend);
  const proxy = await startFaultProxy({ proto: 'tcp', containerPort: backend.port, dataPath });
  const started = performance.now();

  // Warm-up: 8 MiB through the proxy and back, so that buffers allocated once count in the baseline.
  const warm = await connectTcp(V4, proxy.hostPort, { noDelay: true });
  try {
    const echoed = drain(warm);
    const sent = flood(warm, 'warm', 8 * MiB);
    const [out, back] = await withTimeout(Promise.all([sent.done, echoed.done]), TRANSFER_MS, 'the warm-up echo');
    assert.equal(back.sha256, out.sha256, 'the warm-up echo differs');
  } finally {
    warm.destroy();
  }
  const baselineRss = rssBytes(proxy.pid);

  const accepted = backend.nextConnection(); // asked before connecting, so that it cannot be missed
  const client = await connectTcp(V4, proxy.hostPort, { noDelay: true });
  let container: net.Socket | undefined;
  try {
    container = await withTimeout(accepted, 5_000, 'the container to accept');
    client.pause(); // the client does not read either, unless it is the one that resumes later
    const writer = containerFloods ? containerFlood : flood(client, seed, OFFERED);
    if (writer === undefined) throw new Error('the container did not start flooding');
    const stall = await untilStalled(writer.written, proxy.pid);

    // Resume the stalled reader and take everything.
    const reader = containerFloods ? drain(client) : drain(container);
    if (containerFloods) client.resume();
    else container.resume();
    let transferPeakRss = stall.peakRss;
    const sampler = setInterval(() => {
      try {
        transferPeakRss = Math.max(transferPeakRss, rssBytes(proxy.pid));
      } catch {
        // The proxy exited; the transfer's verdict says so.
      }
    }, 25);
    try {
      const [offered, arrived] = await withTimeout(Promise.all([writer.done, reader.done]), TRANSFER_MS, `${OFFERED} bytes to arrive`);
      return {
        stalledAt: stall.at, baselineRss, stallPeakRss: stall.peakRss, transferPeakRss, offered, arrived,
        seconds: (performance.now() - started) / 1000,
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    client.destroy();
    container?.destroy();
  }
}

const mib = (bytes: number): string => `${fmt(bytes / MiB)} MiB`;

describe('backpressure: a reader that stops does not make the proxy buffer', { timeout: 240_000 }, () => {
  for (const dataPath of DATA_PATHS) {
    for (const direction of DIRECTIONS) {
      describe(`${dataPath} data path, ${direction}`, () => {
        let seen: Observed | undefined;
        const observed = (): Observed => {
          if (seen === undefined) throw new Error('the scenario did not run');
          return seen;
        };
        before(async () => {
          seen = await floodAgainstStalledReader(dataPath, direction);
          const o = observed();
          console.log(`# ${dataPath}, ${direction}: stalled after ${mib(o.stalledAt)} of ${mib(OFFERED)}; proxy RSS `
            + `${mib(o.baselineRss)} baseline, ${mib(o.stallPeakRss)} peak while stalled, ${mib(o.transferPeakRss)} peak in transfer; `
            + `${fmt(o.seconds)} s`);
        });

        it(`the proxy's RSS stays within ${mib(RSS_BOUND)} of its baseline while the reader is stalled`, () => {
          const o = observed();
          assert.ok(o.stallPeakRss - o.baselineRss < RSS_BOUND,
            `RSS grew by ${mib(o.stallPeakRss - o.baselineRss)} (the writer got ${mib(o.stalledAt)} in)`);
        });

        it(`… and while the ${mib(OFFERED)} then flow`, () => {
          const o = observed();
          assert.ok(o.transferPeakRss - o.baselineRss < RSS_BOUND, `RSS grew by ${mib(o.transferPeakRss - o.baselineRss)}`);
        });

        it('every byte arrives once the reader resumes (sha256)', () => {
          const { offered, arrived } = observed();
          assert.equal(offered.error, undefined, 'the writer failed');
          assert.equal(offered.written, OFFERED);
          assert.equal(arrived.bytes, OFFERED, `arrived ${arrived.bytes} bytes (${arrived.error ?? 'no error'})`);
          assert.equal(arrived.sha256, offered.sha256);
        });
      });
    }
  }
});
