// Fault 8, UDP under many clients. docker-proxy keeps one flow (socket, goroutine, 64 KiB buffer)
// per client address:port for at least 90 s, without a bound (docs/design/engine-contract.md §4.1, moby#11185): a stream of
// new source ports grows it without limit. Here, with DOCKER_PROXY_UDP_MAX_FLOWS=1000:
//  - many distinct clients in a row stay within the flow limit, the descriptors and a small memory
//    bound; least recently used flows are evicted and counted (metrics), a busy flow survives;
//  - flows whose container never answers do not slow the flows it does answer;
//  - an absent container (nothing listening, ICMP port unreachable) keeps its flows, and they work
//    as soon as it starts.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { bindUdp, closeSocket, portOf } from '../helpers/net.ts';
import { pollUntil, withTimeout } from '../helpers/timeout.ts';
import { killFaultProxies, startFaultProxy, type FaultProxy } from './helpers/proxy.ts';
import { DATA_PATHS, MiB, V4, size } from './helpers/settings.ts';
import { fdKinds, rssBytes, type FdKinds } from './helpers/sysinfo.ts';
import { fmt, quantile } from '../helpers/stats.ts';
import { scrape, valueOf, type Sample } from '../helpers/exposition.ts';
import { reservePort } from '../helpers/ports.ts';

/** A counter's value: one not yet touched has no sample, which reads as 0. */
const counter = (samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number =>
  valueOf(samples, name, labels) ?? 0;

const MAX_FLOWS = 1_000;
const CLIENTS = size(3_000, 20_000);
const PARALLEL = 16;
const RSS_BOUND = 64 * MiB;
const REQUEST_MS = 1_000;
const ATTEMPTS = 3;
/** Sockets besides the flows: the frontend, the metrics listener, and stdout/stderr (spawn's socketpairs). */
const OTHER_SOCKETS = 4;

const sockets = new Set<dgram.Socket>();
after(async () => {
  await killFaultProxies();
  await Promise.all([...sockets].map((sock) => closeSocket(sock)));
});

/** A UDP container: answers "<payload>|<sender port>", ignores payloads starting with "mute". */
async function startUdpContainer(port = 0): Promise<dgram.Socket> {
  const sock = await bindUdp(V4, port);
  sockets.add(sock);
  sock.on('message', (payload, from) => {
    if (payload.toString('latin1').startsWith('mute')) return;
    sock.send(Buffer.concat([payload, Buffer.from(`|${from.port}`)]), from.port, from.address);
  });
  return sock;
}

/** Sends `payload` and resolves with the container's answer's port (the proxy's flow socket). */
function requestOnce(sock: dgram.Socket, port: number, payload: string, ms: number): Promise<number> {
  let onMessage: (message: Buffer) => void = () => undefined;
  const answer = new Promise<number>((resolve, reject) => {
    onMessage = (message) => {
      const text = message.toString('latin1');
      if (!text.startsWith(`${payload}|`)) return; // a late answer to an earlier attempt
      resolve(Number(text.slice(payload.length + 1)));
    };
    sock.on('message', onMessage);
    sock.send(payload, port, V4, (error) => {
      if (error !== null && error !== undefined) reject(error);
    });
  });
  return withTimeout(answer, ms, `an answer to ${payload}`).finally(() => sock.off('message', onMessage));
}

/** requestOnce with retries (UDP may drop); rejects after ATTEMPTS. */
async function request(sock: dgram.Socket, port: number, payload: string): Promise<number> {
  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    try {
      return await requestOnce(sock, port, payload, REQUEST_MS);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function client(): Promise<dgram.Socket> {
  const sock = await bindUdp(V4);
  sockets.add(sock);
  return sock;
}

async function dropClient(sock: dgram.Socket): Promise<void> {
  sockets.delete(sock);
  await closeSocket(sock);
}

for (const dataPath of DATA_PATHS) {
  // The data path option is shared with TCP: 'splice' selects the native UDP path where there is
  // one (it falls back to, or is, the JS path otherwise), 'stream' the JS path (src/proxy/udp/udp-proxy.ts).
  const label = `DOCKER_PROXY_DATA_PATH=${dataPath}`;

  describe(`UDP (${label}): ${CLIENTS} distinct clients in a row, DOCKER_PROXY_UDP_MAX_FLOWS=${MAX_FLOWS}`, { timeout: size(120_000, 400_000) }, () => {
    interface Observed {
      failures: string[];
      hotPorts: Set<number>;
      coldBefore: number;
      coldAfter: number;
      samples: Sample[];
      baselineRss: number;
      finalRss: number;
      baseline: FdKinds;
      final: FdKinds;
      seconds: number;
    }
    let seen: Observed | undefined;
    const observed = (): Observed => {
      if (seen === undefined) throw new Error('the scenario did not run');
      return seen;
    };

    before(async () => {
      const container = await startUdpContainer();
      const proxy = await startFaultProxy({ proto: 'udp', containerPort: portOf(container), metrics: true, dataPath,
        env: { DOCKER_PROXY_UDP_MAX_FLOWS: String(MAX_FLOWS) } });
      const cold = await client();
      const hot = await client();
      const coldBefore = await request(cold, proxy.hostPort, 'cold');
      const hotPorts = new Set([await request(hot, proxy.hostPort, 'hot')]);
      // Warm-up: a few hundred flows, so that what is allocated once counts in the baseline.
      for (let i = 0; i < 200; i += 1) {
        const sock = await client();
        await request(sock, proxy.hostPort, `warm ${i}`);
        await dropClient(sock);
      }
      const baselineRss = rssBytes(proxy.pid);
      const baseline = fdKinds(proxy.pid);
      const failures: string[] = [];
      const started = performance.now();
      for (let i = 0; i < CLIENTS; i += PARALLEL) {
        await Promise.all(Array.from({ length: Math.min(PARALLEL, CLIENTS - i) }, async (_, k) => {
          const sock = await client();
          try {
            await request(sock, proxy.hostPort, `client ${i + k}`);
          } catch (error) {
            if (failures.length < 20) failures.push(`client ${i + k}: ${String(error)}`);
          } finally {
            await dropClient(sock);
          }
        }));
        // The hot flow is used every few hundred new clients: never the least recently used.
        if (i % 256 === 0) hotPorts.add(await request(hot, proxy.hostPort, `hot ${i}`));
      }
      const seconds = (performance.now() - started) / 1000;
      const coldAfter = await request(cold, proxy.hostPort, 'cold again');
      const samples = await scrape(proxy.metricsPort);
      // Closes of evicted flows and of the scrape's connection complete a loop turn later: polled.
      await pollUntil(() => fdKinds(proxy.pid).sockets <= MAX_FLOWS + OTHER_SOCKETS, 3_000, 'the proxy to hold at most one socket per flow')
        .catch(() => undefined);
      seen = {
        failures, hotPorts, coldBefore, coldAfter, samples, baselineRss, finalRss: rssBytes(proxy.pid),
        baseline, final: fdKinds(proxy.pid), seconds,
      };
      const o = observed();
      console.log(`# ${label}: ${CLIENTS} clients in ${fmt(seconds)} s; flows active ${counter(o.samples, 'docker_proxy_udp_flows_active')}, `
        + `total ${counter(o.samples, 'docker_proxy_udp_flows_total')}, evicted `
        + `${counter(o.samples, 'docker_proxy_udp_flows_expired_total', { reason: 'evicted' })}; RSS ${fmt(baselineRss / MiB)} -> `
        + `${fmt(o.finalRss / MiB)} MiB; fds ${JSON.stringify(baseline)} -> ${JSON.stringify(o.final)}`);
    });

    it('every client gets its answer', () => {
      assert.deepEqual(observed().failures, []);
    });

    it(`docker_proxy_udp_flows_active ≤ ${MAX_FLOWS}, and the proxy holds at most that many flow sockets`, () => {
      const o = observed();
      const active = counter(o.samples, 'docker_proxy_udp_flows_active');
      assert.ok(active > 0 && active <= MAX_FLOWS, `flows active: ${active}`);
      assert.ok(o.final.sockets <= MAX_FLOWS + OTHER_SOCKETS, `the proxy holds ${o.final.sockets} sockets`);
    });

    it('flows beyond the limit are evicted and counted: docker_proxy_udp_flows_expired_total{reason="evicted"}', () => {
      const { samples } = observed();
      const total = counter(samples, 'docker_proxy_udp_flows_total');
      const active = counter(samples, 'docker_proxy_udp_flows_active');
      const evicted = counter(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'evicted' });
      const idle = counter(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'idle' });
      const closedFlows = counter(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'closed' });
      // Ports may repeat (a reused source port finds its flow still there), so count from the total.
      assert.ok(total >= CLIENTS / 2, `only ${total} flows were opened for ${CLIENTS} clients`);
      assert.equal(evicted + idle + closedFlows + active, total, 'flows opened = active + ended');
      assert.ok(evicted >= total - MAX_FLOWS - idle - closedFlows && evicted > 0, `evicted ${evicted} of ${total}`);
    });

    it('eviction is least recently used: a busy flow keeps its backend socket, an idle one is replaced', () => {
      const o = observed();
      assert.equal(o.hotPorts.size, 1, `the busy flow was re-created: the container saw ports ${JSON.stringify([...o.hotPorts])}`);
      assert.notEqual(o.coldAfter, o.coldBefore, 'the least recently used flow was not evicted');
    });

    it(`memory stays within ${RSS_BOUND / MiB} MiB of the baseline (no 64 KiB per flow for ever)`, () => {
      const o = observed();
      assert.ok(o.finalRss - o.baselineRss < RSS_BOUND, `RSS grew by ${fmt((o.finalRss - o.baselineRss) / MiB)} MiB`);
    });
  });

  describe(`UDP (${label}): flows that the container never answers do not slow the others`, { timeout: 60_000 }, () => {
    const PROBES = 200;
    const MUTE_FLOWS = size(200, 400);
    /**
     * Every TICK_MS, the next PER_TICK mute flows send one datagram each: 10k datagrams/s, well within
     * what one proxy forwards, in bursts small enough for the kernel's default receive buffer (about
     * 200 KiB, ~150 small datagrams) of the proxy's frontend socket: a larger burst would be dropped
     * by the kernel whoever sends it, which is not what is tested here.
     */
    const TICK_MS = 4;
    const PER_TICK = 40;
    let base: number[] = [];
    let loaded: number[] = [];
    let lost = 0;
    let proxy: FaultProxy | undefined;

    before(async () => {
      const container = await startUdpContainer();
      proxy = await startFaultProxy({ proto: 'udp', containerPort: portOf(container), dataPath,
        env: { DOCKER_PROXY_UDP_MAX_FLOWS: String(MAX_FLOWS) } });
      const { hostPort } = proxy;
      const probe = await client();
      const measure = async (what: string): Promise<number[]> => {
        const out: number[] = [];
        for (let i = 0; i < PROBES; i += 1) {
          const start = performance.now();
          try {
            await request(probe, hostPort, `${what} ${i}`);
            out.push(performance.now() - start);
          } catch {
            lost += 1;
          }
        }
        return out;
      };
      base = await measure('base');
      // The mute flows send datagrams the container never answers, all through the measurement, at a
      // paced rate (a rate, not a wait for an event).
      const mutes = await Promise.all(Array.from({ length: MUTE_FLOWS }, () => client()));
      let flooding = true;
      const flood = (async () => {
        for (let round = 0; flooding && round < 20_000; round += 1) {
          for (let k = 0; k < PER_TICK; k += 1) {
            mutes[(round * PER_TICK + k) % mutes.length]?.send(`mute ${round} ${'m'.repeat(100)}`, hostPort, V4);
          }
          await delay(TICK_MS);
        }
      })();
      try {
        loaded = await measure('loaded');
      } finally {
        flooding = false;
        await flood;
      }
      await Promise.all(mutes.map((sock) => dropClient(sock)));
      console.log(`# ${label}: probe p50/p99: ${fmt(quantile(base, 0.5))}/${fmt(quantile(base, 0.99))} ms alone, `
        + `${fmt(quantile(loaded, 0.5))}/${fmt(quantile(loaded, 0.99))} ms next to ${MUTE_FLOWS} mute flows; ${lost} lost`);
    });

    it('the answered flow loses nothing', () => {
      assert.equal(lost, 0);
      assert.ok(proxy?.alive(), 'the proxy exited');
    });

    it('its p99 latency stays within 10 × alone + 20 ms', () => {
      assert.ok(quantile(loaded, 0.99) <= 10 * quantile(base, 0.99) + 20,
        `p99 ${fmt(quantile(loaded, 0.99))} ms next to the mute flows, ${fmt(quantile(base, 0.99))} ms alone`);
    });
  });

  describe(`UDP (${label}): an absent container keeps its flows, which work once it starts`, { timeout: 60_000 }, () => {
    const FLOWS = 50;
    it('datagrams to a port nothing listens on are dropped; the same clients get answers after it starts', async () => {
      const containerPort = await reservePort('udp', V4); // nothing listens there: the kernel answers port unreachable
      const proxy = await startFaultProxy({ proto: 'udp', containerPort, metrics: true, dataPath });
      const clients = await Promise.all(Array.from({ length: FLOWS }, () => client()));
      for (let round = 0; round < 5; round += 1) {
        for (const sock of clients) sock.send(`nobody ${round}`, proxy.hostPort, V4);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // Each flow has met ECONNREFUSED by now or soon; the flows must stay (docker-proxy keeps them).
      const during = await scrape(proxy.metricsPort);
      assert.ok(proxy.alive(), 'the proxy exited');
      await startUdpContainer(containerPort);
      const answered = await Promise.all(clients.map((sock, i) => request(sock, proxy.hostPort, `back ${i}`).then(() => true, () => false)));
      assert.equal(answered.filter((ok) => !ok).length, 0, 'some clients got no answer after the container started');
      const afterStart = await scrape(proxy.metricsPort);
      assert.equal(counter(afterStart, 'docker_proxy_udp_flows_total'), counter(during, 'docker_proxy_udp_flows_total'),
        'flows were re-created instead of kept');
    });
  });
}
