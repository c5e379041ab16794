// Fault 11b, clients that pipeline GET /metrics and never read, at 1000 mappings (one answer is
// ~570 KiB). Before the endpoint waited for each answer to drain, 8 such clients grew the proxy by
// ~600 MiB in 5 s and a TCP echo through a mapping got no answer for 4 s. Now: the proxy's memory
// stays bounded, forwarding and a legitimate scrape keep their latency, and the server closes the
// non-reading clients in bounded time (seen in its descriptors: a client that does not read
// cannot see the close).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pollUntil, withTimeout } from '../helpers/timeout.ts';
import { echo as echoBack, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { killFaultProxies, spawnRaw } from './helpers/proxy.ts';
import { osChosenPort } from '../helpers/ports.ts';
import { MiB, V4, size, CONTAINER } from './helpers/settings.ts';
import { fdTotal, rssBytes } from './helpers/sysinfo.ts';
import { fmt, quantile } from '../helpers/stats.ts';
import { httpRequest } from '../helpers/http.ts';
import { echoOnce } from '../helpers/client.ts';

const FILLER_HOST = '127.0.0.3';
const MAPPINGS = 1000;
const CLIENTS = size(8, 16);
const PIPELINED = size(100, 200);
const ABUSE_MS = size(5_000, 15_000);
/** src/metrics/http-server.ts: an answer must drain (and the next head arrive) within this time. */
const REQUEST_TIMEOUT_MS = 5_000;
const SLACK_MS = 3_000;
/** The proxy's growth during the abuse; without the fix it was ~600 MiB for 8 clients. */
const MAX_GROWTH = 96 * MiB;
const LATENCY_FACTOR = 10;
const LATENCY_SLACK_MS = 50;
/** A scrape of 1000 mappings on a loaded 2-core machine. */
const SCRAPE_MS = 2_000;

const backends: TcpBackend[] = [];
const hostile = new Set<net.Socket>();
after(async () => {
  for (const sock of hostile) sock.destroy();
  await killFaultProxies();
  await Promise.all(backends.map((b) => b.close()));
});

/** A client that sends `count` pipelined scrapes and never reads (so it cannot see the server close it either). */
async function nonReadingClient(port: number, count: number): Promise<void> {
  const sock = net.connect({ host: V4, port });
  hostile.add(sock);
  sock.on('error', () => undefined);
  await withTimeout(new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  }), 5_000, 'connect to the metrics endpoint');
  // No 'data' listener and paused: Node reads nothing, so the answers pile up in the kernel and then the proxy.
  sock.pause();
  sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(count));
}

describe(`${CLIENTS} clients pipelining ${PIPELINED} × GET /metrics at ${MAPPINGS} mappings, never reading`, { timeout: 180_000 }, () => {
  const quiet = { echo: [] as number[], scrape: [] as number[] };
  const busy = { echo: [] as number[], scrape: [] as number[] };
  const failures: string[] = [];
  let answerBytes = 0;
  let baseRss = 0;
  let peakRss = 0;
  let baseFds = 0;
  let leftOpen = 0;
  let closedAfterMs = Number.NaN;

  before(async () => {
    const backend = await startTcpBackend(V4, echoBack, CONTAINER);
    backends.push(backend);
    const [hostPort, metricsPort] = [await osChosenPort('tcp', V4), await osChosenPort('tcp', V4)];
    // One mapping to forward through; the others make the exposition large. Their OS-chosen ports
    // are on another loopback address, so none can take the metrics port before the endpoint binds it.
    const specs = [`${V4}:${hostPort}:${V4}:${backend.port}`];
    for (let i = 1; i < MAPPINGS; i += 1) specs.push(`${FILLER_HOST}:0:${V4}:${10_000 + i}`);
    const raw = spawnRaw(specs.flatMap((spec) => ['-p', spec]), { env: { DOCKER_PROXY_METRICS_ADDR: `${V4}:${metricsPort}` } });
    const { pid } = raw.child;
    if (pid === undefined || raw.pipe === undefined) throw new Error('could not spawn the proxy');
    assert.equal(await withTimeout(raw.pipe.head, 30_000, 'fd 3 status'), '0\n', raw.stderr());
    const echo = (): Promise<number> => echoOnce(V4, hostPort, Buffer.from('forwarding'), 5_000);
    const timedScrape = async (): Promise<number> => {
      const start = performance.now();
      const answer = await httpRequest(metricsPort, '/metrics', 'GET', SCRAPE_MS);
      if (answer.status !== 200) throw new Error(`scrape answered ${answer.status}`);
      answerBytes = Buffer.byteLength(answer.body);
      return performance.now() - start;
    };
    for (let i = 0; i < 10; i += 1) quiet.scrape.push(await timedScrape());
    for (let i = 0; i < 100; i += 1) quiet.echo.push(await echo());
    baseRss = rssBytes(pid);
    peakRss = baseRss;
    // The proxy's descriptors at rest: the clients' sockets come on top, and must go again.
    await pollUntil(() => fdTotal(pid) === (baseFds = fdTotal(pid)), 5_000, 'the descriptors to settle', 200);
    for (let i = 0; i < CLIENTS; i += 1) await nonReadingClient(metricsPort, PIPELINED);
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssBytes(pid));
    }, 50);
    const end = performance.now() + ABUSE_MS;
    try {
      for (let i = 0; performance.now() < end; i += 1) {
        try {
          busy.echo.push(await echo());
          if (i % 10 === 0) busy.scrape.push(await timedScrape());
        } catch (error) {
          if (failures.length < 10) failures.push(String(error));
        }
        await delay(20); // a probe rate, not a wait for an event
      }
    } finally {
      clearInterval(sampler);
    }
    const abuseEnded = performance.now();
    await pollUntil(() => fdTotal(pid) <= baseFds, REQUEST_TIMEOUT_MS + SLACK_MS, 'the proxy to close the clients')
      .then(() => {
        closedAfterMs = performance.now() - abuseEnded;
      }, () => undefined);
    leftOpen = Math.max(0, fdTotal(pid) - baseFds);
    console.log(`# answer ${fmt(answerBytes / 1024)} KiB; RSS ${fmt(baseRss / MiB)} MiB before, peak ${fmt(peakRss / MiB)} MiB; `
      + `echo p99 ${fmt(quantile(quiet.echo, 0.99))} ms quiet, ${fmt(quantile(busy.echo, 0.99))} ms busy (${busy.echo.length}); `
      + `scrape max ${fmt(Math.max(...quiet.scrape))} ms quiet, ${fmt(Math.max(...busy.scrape))} ms busy; `
      + `clients closed ${fmt(closedAfterMs)} ms after the abuse window, ${leftOpen} descriptors left over`);
  });

  it('the exposition is as large as the case needs (≥ 400 KiB)', () => {
    assert.ok(answerBytes >= 400 * 1024, `one answer is ${answerBytes} bytes`);
  });

  it(`the proxy grows by at most ${MAX_GROWTH / MiB} MiB`, () => {
    assert.ok(peakRss - baseRss <= MAX_GROWTH, `grew from ${fmt(baseRss / MiB)} to ${fmt(peakRss / MiB)} MiB`);
  });

  it('forwarding and scrapes never fail meanwhile', () => {
    assert.deepEqual(failures, []);
    assert.ok(busy.scrape.length > 0, 'no scrape was made');
  });

  it(`forwarding latency: p99 ≤ ${LATENCY_FACTOR} × quiet p99 + ${LATENCY_SLACK_MS} ms`, () => {
    const [q, b] = [quantile(quiet.echo, 0.99), quantile(busy.echo, 0.99)];
    assert.ok(b <= LATENCY_FACTOR * q + LATENCY_SLACK_MS, `p99 ${fmt(b)} ms busy, ${fmt(q)} ms quiet`);
  });

  it('the server closes every non-reading client within its request timeout and some slack', () => {
    assert.equal(leftOpen, 0, `${leftOpen} descriptors more than before the ${CLIENTS} clients, ${REQUEST_TIMEOUT_MS + SLACK_MS} ms after the abuse`);
  });
});
