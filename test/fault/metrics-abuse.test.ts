// Fault 11, the metrics endpoint under hostile input, all at once: garbage bytes, invalid request
// lines, HTTP/0.9, absurd methods, oversized headers, a huge body, pipelining, slowloris trickles
// and idle sockets. Meanwhile the proxy must keep forwarding at its usual latency and answer a
// legitimate scrape promptly; the hostile connections must be closed by the server in bounded time.
// Then more idle sockets than the endpoint's connection cap: forwarding is untouched and scrapes
// work again once the server's request timeout has cleared them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pollUntil, withTimeout } from '../helpers/timeout.ts';
import { echo as echoBack, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { killFaultProxies, startFaultProxy, type FaultProxy } from './helpers/proxy.ts';
import { V4, size, CONTAINER } from './helpers/settings.ts';
import { fmt, quantile } from '../helpers/stats.ts';
import { httpRequest } from '../helpers/http.ts';
import { echoOnce } from '../helpers/client.ts';

/** src/metrics/http-server.ts: request, header and idle timeout; connection cap. */
const REQUEST_TIMEOUT_MS = 5_000;
const MAX_CONNECTIONS = 256;
const SLACK_MS = 3_000;
const ABUSE_MS = size(6_000, 12_000);
const SLOWLORIS = 30;
const IDLE = 120;
/** Forwarding and scrapes during the abuse: p99 within this many times the quiet p99, plus this many ms. */
const LATENCY_FACTOR = 10;
const LATENCY_SLACK_MS = 50;
const SCRAPE_MS = 1_000;

const backends: TcpBackend[] = [];
const raw = new Set<net.Socket>();
after(async () => {
  for (const sock of raw) sock.destroy();
  await killFaultProxies();
  await Promise.all(backends.map((b) => b.close()));
});

/** A raw connection to the endpoint; resolves with when the server closed it (ms after `since`). */
async function rawConnection(port: number): Promise<{ sock: net.Socket; closedAfter: Promise<number> }> {
  const sock = net.connect({ host: V4, port });
  raw.add(sock);
  sock.on('error', () => undefined);
  sock.on('data', () => undefined);
  const opened = performance.now();
  const closedAfter = new Promise<number>((resolve) => sock.once('close', () => {
    raw.delete(sock);
    resolve(performance.now() - opened);
  }));
  await withTimeout(new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  }), 5_000, `connect to the metrics endpoint ${port}`);
  return { sock, closedAfter };
}

const ONE_SHOT: ReadonlyArray<readonly [string, string | Buffer]> = [
  ['garbage bytes', randomBytes(4096)],
  ['a request line without a target', 'GET\r\n\r\n'],
  ['a lone word', 'GARBAGE\r\n\r\n'],
  ['HTTP/9.9', 'GET /metrics HTTP/9.9\r\n\r\n'],
  ['HTTP/0.9', 'GET /metrics\r\n'],
  ['a request line with extra fields', 'GET /metrics HTTP/1.1 extra\r\nHost: x\r\n\r\n'],
  ['only line ends', '\r\n\r\n\r\n\r\n'],
  ['a 10 000-letter method', `${'A'.repeat(10_000)} /metrics HTTP/1.1\r\nHost: x\r\n\r\n`],
  ['an unknown method', 'BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a NUL in the method', 'GE\0T /metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a 64 KiB header', `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`],
  ['a 1 MiB header', `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(1024 * 1024)}\r\n\r\n`],
  ['10 000 headers', `GET /metrics HTTP/1.1\r\nHost: x\r\n${'X-H: 1\r\n'.repeat(10_000)}\r\n`],
  ['a 1 GB body announced', 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nxxxx'],
  ['bad chunked encoding', 'GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ['both Content-Length and chunked', 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['1000 pipelined requests', 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1_000)],
  ['a header without a colon', 'GET /metrics HTTP/1.1\r\nHost x\r\n\r\n'],
  ['an absolute URI to another host', 'GET http://example.invalid/metrics HTTP/1.1\r\nHost: example.invalid\r\n\r\n'],
];

describe('metrics endpoint abuse does not stall forwarding or a legitimate scrape', { timeout: 120_000 }, () => {
  let proxy: FaultProxy | undefined;
  let quietEcho: number[] = [];
  let quietScrape: number[] = [];
  const busyEcho: number[] = [];
  const busyScrape: number[] = [];
  const failures: string[] = [];
  let hostileClosedMs: number[] = [];
  let hostileOpen = 0;

  before(async () => {
    const backend = await startTcpBackend(V4, echoBack, CONTAINER);
    backends.push(backend);
    proxy = await startFaultProxy({ proto: 'tcp', containerPort: backend.port, metrics: true });
    const { hostPort, metricsPort } = proxy;
    const echo = (): Promise<number> => echoOnce(V4, hostPort, Buffer.from('forwarding'), 5_000);
    const timedScrape = async (): Promise<number> => {
      const start = performance.now();
      const answer = await httpRequest(metricsPort, '/metrics', 'GET', SCRAPE_MS);
      if (answer.status !== 200) throw new Error(`scrape answered ${answer.status}`);
      return performance.now() - start;
    };
    quietEcho = [];
    for (let i = 0; i < 100; i += 1) quietEcho.push(await echo());
    quietScrape = [];
    for (let i = 0; i < 10; i += 1) quietScrape.push(await timedScrape());

    const closings: Array<Promise<number>> = [];
    // Slowloris: a header that never ends, one byte every 200 ms.
    const trickles: net.Socket[] = [];
    for (let i = 0; i < SLOWLORIS; i += 1) {
      const { sock, closedAfter } = await rawConnection(metricsPort);
      sock.write('GET /metrics HTTP/1.1\r\nX-Slow: ');
      trickles.push(sock);
      closings.push(closedAfter);
    }
    const trickle = setInterval(() => {
      for (const sock of trickles) if (!sock.destroyed) sock.write('a');
    }, 200);
    // Idle sockets that never send a byte.
    for (let i = 0; i < IDLE; i += 1) closings.push((await rawConnection(metricsPort)).closedAfter);
    // One-shot hostile requests, repeated through the abuse window.
    const end = performance.now() + ABUSE_MS;
    const hostile = (async () => {
      for (let round = 0; performance.now() < end && round < 100; round += 1) {
        for (const [, payload] of ONE_SHOT) {
          const { sock, closedAfter } = await rawConnection(metricsPort);
          sock.write(payload);
          closings.push(closedAfter);
        }
        await delay(250); // a paced attacker: a rate, not a wait for an event
      }
    })();
    // Meanwhile: forwarding and scraping as usual.
    const probes = (async () => {
      for (let i = 0; performance.now() < end && i < 10_000; i += 1) {
        try {
          busyEcho.push(await echo());
          if (i % 10 === 0) busyScrape.push(await timedScrape());
        } catch (error) {
          if (failures.length < 10) failures.push(String(error));
        }
        await delay(20);
      }
    })();
    try {
      await Promise.all([hostile, probes]);
    } finally {
      clearInterval(trickle);
    }
    // Every hostile connection is closed by the server within the request timeout and some slack.
    const settled = await Promise.all(closings.map((closing) =>
      withTimeout(closing, ABUSE_MS + REQUEST_TIMEOUT_MS + SLACK_MS, 'the server to close a hostile connection').catch(() => Number.NaN)));
    hostileClosedMs = settled.filter((ms) => !Number.isNaN(ms));
    hostileOpen = settled.length - hostileClosedMs.length;
    console.log(`# forwarding p99 ${fmt(quantile(quietEcho, 0.99))} ms quiet, ${fmt(quantile(busyEcho, 0.99))} ms under abuse `
      + `(${busyEcho.length} probes); scrape p99 ${fmt(quantile(quietScrape, 0.99))} ms quiet, ${fmt(quantile(busyScrape, 0.99))} ms `
      + `under abuse; ${closings.length} hostile connections, ${hostileOpen} never closed by the server, the rest closed after `
      + `≤ ${fmt(Math.max(...hostileClosedMs))} ms`);
  });

  it('forwarding and scrapes never fail during the abuse', () => {
    assert.deepEqual(failures, []);
    assert.ok(proxy?.alive(), 'the proxy exited');
  });

  it(`forwarding latency: p99 ≤ ${LATENCY_FACTOR} × quiet p99 + ${LATENCY_SLACK_MS} ms`, () => {
    const quiet = quantile(quietEcho, 0.99);
    const busy = quantile(busyEcho, 0.99);
    assert.ok(busy <= LATENCY_FACTOR * quiet + LATENCY_SLACK_MS, `p99 ${fmt(busy)} ms under abuse, ${fmt(quiet)} ms quiet`);
  });

  it(`a legitimate scrape answers within ${SCRAPE_MS} ms throughout`, () => {
    assert.ok(busyScrape.length > 0, 'no scrape was made');
    assert.ok(Math.max(...busyScrape) <= SCRAPE_MS, `slowest scrape ${fmt(Math.max(...busyScrape))} ms`);
  });

  it('every hostile connection is closed by the server in bounded time', () => {
    assert.equal(hostileOpen, 0, `${hostileOpen} hostile connections were still open after ${ABUSE_MS + REQUEST_TIMEOUT_MS + SLACK_MS} ms`);
  });
});

describe(`more idle sockets than the endpoint's cap (${MAX_CONNECTIONS})`, { timeout: 60_000 }, () => {
  it('forwarding is untouched, and scrapes answer again once the idle sockets time out', async () => {
    const backend = await startTcpBackend(V4, echoBack, CONTAINER);
    backends.push(backend);
    const proxy = await startFaultProxy({ proto: 'tcp', containerPort: backend.port, metrics: true });
    const idle = [];
    for (let i = 0; i < MAX_CONNECTIONS + 44; i += 1) idle.push(await rawConnection(proxy.metricsPort));
    const saturated = performance.now();
    const echoMs = await echoOnce(V4, proxy.hostPort, Buffer.from('forwarding'), 2_000);
    let refused = 0;
    let answered = Number.NaN;
    await pollUntil(async () => {
      try {
        await httpRequest(proxy.metricsPort, '/healthz', 'GET', 1_000);
        answered = performance.now() - saturated;
        return true;
      } catch {
        refused += 1;
        return false;
      }
    }, REQUEST_TIMEOUT_MS + SLACK_MS, 'a scrape to be answered again', 100);
    console.log(`# ${idle.length} idle sockets: forwarding echo ${fmt(echoMs)} ms; ${refused} scrapes refused, `
      + `answered again after ${fmt(answered)} ms`);
    assert.ok(echoMs < 500, `forwarding took ${fmt(echoMs)} ms`);
  });
});
