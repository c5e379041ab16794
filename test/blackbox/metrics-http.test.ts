// The metrics endpoint under misuse (ours only): wrong paths and methods, oversized and stalled
// requests, idle connections; none of it may stall a scrape or the proxy's forwarding. Then the
// startup errors of DOCKER_PROXY_METRICS_*. The values themselves are in metrics.test.ts.
import assert from 'node:assert/strict';
import net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { tcpRoundTrip } from '../helpers/client.ts';
import { echo, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { closeSocket, listenTcp, LOOPBACK, needsIpv6, portOf } from '../helpers/net.ts';
import { dockerdArgs, killAll, type Mapping, runToExit, spawnMapping, startProxy } from '../helpers/spawn-proxy.ts';
import { needs } from '../helpers/target.ts';
import { STEP_MS, withTimeout } from '../helpers/timeout.ts';
import { httpRequest } from '../helpers/http.ts';
import { reservePort } from '../helpers/ports.ts';

const V4 = LOOPBACK.v4;
/** The server's request, header and idle timeout (src/metrics/http-server.ts), and slack for a loaded machine. */
const REQUEST_TIMEOUT_MS = 5_000;
const SLACK_MS = 2_000;

const backends: TcpBackend[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const sock of sockets.splice(0)) sock.destroy();
  await killAll();
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

/** A raw connection to the endpoint, destroyed after the test. */
async function rawConnection(port: number): Promise<net.Socket> {
  const sock = net.connect({ host: V4, port });
  sockets.push(sock);
  sock.on('error', () => undefined); // resets from the server are what some tests provoke
  await withTimeout(new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  }), STEP_MS, `connect to ${port}`);
  return sock;
}

/** Everything the server sends until the connection closes (a reset just ends it early). */
function untilClosed(sock: net.Socket, ms: number, what: string): Promise<string> {
  let text = '';
  sock.setEncoding('latin1').on('data', (s: string) => { text += s; });
  return withTimeout(new Promise<string>((resolve) => {
    if (sock.destroyed) resolve(text);
    else sock.once('close', () => resolve(text));
  }), ms, what);
}

interface Endpoint { readonly hostPort: number; readonly metricsPort: number }

/** A TCP proxy to an echo backend, with DOCKER_PROXY_METRICS_ADDR on another OS-chosen port. */
async function startEndpoint(): Promise<Endpoint> {
  const backend = await startTcpBackend(V4, echo);
  backends.push(backend);
  const held = await listenTcp({ host: V4 });
  const metricsPort = portOf(held);
  const hostPort = await reservePort('tcp', V4);
  await closeSocket(held);
  await startProxy({ proto: 'tcp', hostIp: V4, hostPort, containerIp: V4, containerPort: backend.port },
    { env: { DOCKER_PROXY_METRICS_ADDR: `${V4}:${metricsPort}` } });
  return { hostPort, metricsPort };
}

/** The proxy forwards and the endpoint answers a scrape promptly. */
async function assertServing({ hostPort, metricsPort }: Endpoint, ms = 2_000): Promise<void> {
  assert.equal((await tcpRoundTrip(V4, hostPort, 'still forwarding', ms)).toString(), 'still forwarding');
  const scrape = await httpRequest(metricsPort, '/metrics', 'GET', ms);
  assert.equal(scrape.status, 200);
  assert.match(scrape.body, /^docker_proxy_build_info\{/m);
}

describe('the metrics endpoint', needs('extensions'), () => {
  it('GET /metrics: 200 in the exposition format; HEAD, like every other method, is 405', async () => {
    const { metricsPort } = await startEndpoint();
    const answer = await httpRequest(metricsPort, '/metrics', 'GET');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(answer.body, /^# TYPE docker_proxy_connections_total counter$/m);
    const head = await httpRequest(metricsPort, '/metrics', 'HEAD');
    assert.equal(head.status, 405);
    assert.equal(head.headers['allow'], 'GET');
  });

  it('GET /healthz: 200 "ok"', async () => {
    const { metricsPort } = await startEndpoint();
    const answer = await httpRequest(metricsPort, '/healthz');
    assert.equal(answer.status, 200);
    assert.equal(answer.body.trim(), 'ok');
  });

  it('any other path is 404', async () => {
    const { metricsPort } = await startEndpoint();
    for (const path of ['/', '/metricsx', '/metrics/', '/healthz/x', '/favicon.ico']) {
      assert.equal((await httpRequest(metricsPort, path)).status, 404, path);
    }
  });

  it('any other method is 405 with an Allow header', async () => {
    const { metricsPort } = await startEndpoint();
    for (const [method, path] of [['POST', '/metrics'], ['PUT', '/metrics'], ['DELETE', '/metrics'], ['POST', '/healthz']] as const) {
      const answer = await httpRequest(metricsPort, path, method);
      assert.equal(answer.status, 405, `${method} ${path}`);
      assert.match(answer.headers.allow ?? '', /\bGET\b/, `Allow on ${method} ${path}`);
    }
  });

  /** Responses in `text`, in order: each status line's code. */
  const statuses = (text: string): number[] => [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));

  it('keep-alive: two scrapes on one connection, then Connection: close ends it', async () => {
    const { metricsPort } = await startEndpoint();
    const sock = await rawConnection(metricsPort);
    const answer = untilClosed(sock, STEP_MS, 'the server to close after Connection: close');
    sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100)); // a second scrape later, on the same socket
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const text = await answer;
    assert.deepEqual(statuses(text), [200, 200]);
    assert.match(text, /^Connection: keep-alive\r$/m);
    assert.match(text, /^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r$/m);
    assert.match(text, /^Connection: close\r$/m);
    assert.match(text, /^docker_proxy_build_info\{/m);
  });

  it('pipelined requests are answered in order', async () => {
    const { metricsPort } = await startEndpoint();
    const sock = await rawConnection(metricsPort);
    const answer = untilClosed(sock, STEP_MS, 'the pipelined answers');
    sock.write('GET /healthz HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nPOST /healthz HTTP/1.1\r\n\r\n'
      + 'GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statuses(await answer), [200, 404, 405, 200]);
  });

  it('a client that half-closes right after its request still gets the answer (HTTP/1.0, as nc sends it)', async () => {
    const { metricsPort } = await startEndpoint();
    const sock = await rawConnection(metricsPort);
    const answer = untilClosed(sock, STEP_MS, 'the answer to a half-closed request');
    sock.end('GET /metrics HTTP/1.0\r\n\r\n');
    const text = await answer;
    assert.deepEqual(statuses(text), [200]);
    const length = Number(/^Content-Length: (\d+)\r$/m.exec(text)?.[1]);
    assert.equal(Buffer.byteLength(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1'), length, 'the whole body, as announced');
  });

  it('a malformed request gets 400 and the connection closes', async () => {
    const { metricsPort } = await startEndpoint();
    const sock = await rawConnection(metricsPort);
    const answer = untilClosed(sock, STEP_MS, 'the server to close the malformed request');
    sock.write('GET /metrics HTTP/1.1\r\nHost x\r\n\r\n');
    assert.deepEqual(statuses(await answer), [400]);
  });

  /** 64 KiB of headers: far beyond the server's limit. */
  const hugeRequest = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(64 * 1024)}\r\n\r\n`;

  it('64 KiB of request headers: refused (4xx or closed), and the proxy keeps forwarding', async () => {
    const endpoint = await startEndpoint();
    const sock = await rawConnection(endpoint.metricsPort);
    sock.write(hugeRequest);
    const answer = await untilClosed(sock, STEP_MS, 'the server to close the oversized request');
    assert.match(answer, /^$|^HTTP\/1\.1 4\d\d /, `got ${JSON.stringify(answer.slice(0, 80))}`);
    await assertServing(endpoint);
  });

  it('64 KiB of request headers: the answer is 431 (or none)', async () => {
    const { metricsPort } = await startEndpoint();
    const sock = await rawConnection(metricsPort);
    sock.write(hugeRequest);
    const answer = await untilClosed(sock, STEP_MS, 'the server to close the oversized request');
    assert.match(answer, /^$|^HTTP\/1\.1 431 /, `got ${JSON.stringify(answer.slice(0, 80))}`);
  });

  it('half a request line, then silence: a concurrent scrape answers, the stalled socket is closed in ~5 s', async () => {
    const endpoint = await startEndpoint();
    const sock = await rawConnection(endpoint.metricsPort);
    sock.write('GET /metr');
    const gone = untilClosed(sock, REQUEST_TIMEOUT_MS + SLACK_MS, 'the server to close the stalled request');
    await assertServing(endpoint);
    assert.equal(await gone, '', 'closed without an answer');
  });

  it('a request trickled one byte per 500 ms is closed by the header timeout (~5 s)', async () => {
    const { metricsPort } = await startEndpoint();
    const sock = await rawConnection(metricsPort);
    sock.write('GET /metrics HTTP/1.1\r\nX-Slow: ');
    const trickle = setInterval(() => sock.write('a'), 500);
    try {
      await untilClosed(sock, REQUEST_TIMEOUT_MS + SLACK_MS, 'the server to close the trickled request');
    } finally {
      clearInterval(trickle);
    }
  });

  it('40 idle connections: forwarding goes on, and the endpoint answers again once they time out', async () => {
    const endpoint = await startEndpoint();
    const idle = await Promise.all(Array.from({ length: 40 }, () => rawConnection(endpoint.metricsPort)));
    assert.equal((await tcpRoundTrip(V4, endpoint.hostPort, 'busy endpoint', 2_000)).toString(), 'busy endpoint');
    await Promise.all(idle.map((sock) => untilClosed(sock, REQUEST_TIMEOUT_MS + SLACK_MS, 'the server to drop an idle connection')));
    await assertServing(endpoint);
  });

  it('40 idle connections do not stop /metrics from answering on a fresh connection', async () => {
    const { metricsPort } = await startEndpoint();
    await Promise.all(Array.from({ length: 40 }, () => rawConnection(metricsPort)));
    assert.equal((await httpRequest(metricsPort, '/metrics', 'GET', 2_000)).status, 200);
  });
});

describe('a v6 metrics address', needs('extensions'), () => {
  it('[::]:PORT serves IPv6 only, as the proxy\'s own v6 listeners do', needsIpv6(), async () => {
    const backend = await startTcpBackend(V4, echo);
    backends.push(backend);
    const metricsPort = await reservePort('tcp', LOOPBACK.v6);
    const hostPort = await reservePort('tcp', V4);
    await startProxy({ proto: 'tcp', hostIp: V4, hostPort, containerIp: V4, containerPort: backend.port },
      { env: { DOCKER_PROXY_METRICS_ADDR: `[::]:${metricsPort}` } });
    const v6 = (await httpRequest(metricsPort, '/healthz', 'GET', STEP_MS, LOOPBACK.v6)).status;
    assert.equal(v6, 200);
    const v4 = await withTimeout(new Promise<string>((resolve) => {
      const sock = net.connect({ host: V4, port: metricsPort });
      sock.once('connect', () => {
        sock.destroy();
        resolve('connected');
      });
      sock.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    }), STEP_MS, `connect to ${V4}:${metricsPort}`);
    assert.equal(v4, 'ECONNREFUSED');
  });
});

describe('DOCKER_PROXY_METRICS_* startup errors', needs('extensions'), () => {
  const mapping = async (): Promise<Mapping> => ({ proto: 'tcp', hostIp: V4, hostPort: await reservePort('tcp', V4),
    containerIp: V4, containerPort: await reservePort('tcp', V4) }); // never dialled

  /** Runs the proxy with `env`; it must report `1\n<message>` on fd 3 and exit 1. */
  async function startupError(env: Readonly<Record<string, string>>): Promise<string> {
    const proxy = spawnMapping(await mapping(), { env });
    const status = await withTimeout(proxy.status, STEP_MS, 'status on fd 3');
    assert.deepEqual(await withTimeout(proxy.exited, STEP_MS, 'exit'), { code: 1, signal: null });
    assert.ok(status.text.startsWith('1\n') && status.text.length > 2, `fd 3 was ${JSON.stringify(status.text)}`);
    return status.text.slice(2);
  }

  it('DOCKER_PROXY_METRICS_ADDR on a port in use', async () => {
    const held = await listenTcp({ host: V4 });
    try {
      const message = await startupError({ DOCKER_PROXY_METRICS_ADDR: `${V4}:${portOf(held)}` });
      assert.match(message, /address already in use/);
    } finally {
      await closeSocket(held);
    }
  });

  for (const [name, value] of [
    ['DOCKER_PROXY_METRICS_ADDR', 'nonsense'],
    ['DOCKER_PROXY_METRICS_ADDR', 'localhost:9323'], // a name: no DNS at startup
    ['DOCKER_PROXY_METRICS_ADDR', '127.0.0.1:65536'],
    ['DOCKER_PROXY_METRICS_INTERVAL', 'often'],
  ] as const) {
    it(`${name}=${value} names the variable`, async () => {
      assert.match(await startupError({ [name]: value }), new RegExp(name));
    });
  }

  it('DOCKER_PROXY_METRICS_DIR=/nonexistent/dir', async () => {
    assert.match(await startupError({ DOCKER_PROXY_METRICS_DIR: '/nonexistent/dir' }), /\/nonexistent\/dir/);
  });

  it('a bad -metrics-addr flag is a flag error: exit 2, nothing on fd 3', async () => {
    const run = await runToExit([...dockerdArgs(await mapping()), '-metrics-addr', 'nonsense']);
    assert.deepEqual(run.exit, { code: 2, signal: null });
    assert.ok(run.stderr.startsWith('invalid value "nonsense" for flag -metrics-addr: '), run.stderr);
    assert.equal(run.fd3, '');
  });
});
