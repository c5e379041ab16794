// Prometheus metrics (ours only): known traffic through a spawned proxy, then exact values read
// back from GET /metrics (DOCKER_PROXY_METRICS_ADDR) and from the textfile (DOCKER_PROXY_METRICS_DIR).
// The endpoint's HTTP edge cases and the startup errors are in metrics-http.test.ts.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { shareWithProxy } from '../helpers/proxy-user.ts';
import { connectTcp, tcpRoundTrip } from '../helpers/client.ts';
import { echo, startTcpBackend, startUdpBackend, type TcpBehaviour } from '../helpers/backends.ts';
import { closeSocket, listenTcp, LOOPBACK, portOf, type Proto } from '../helpers/net.ts';
import { killAll, type ProxyProcess, startProxy } from '../helpers/spawn-proxy.ts';
import { PROXY_BIN, needs } from '../helpers/target.ts';
import { pollUntil, STEP_MS, withTimeout } from '../helpers/timeout.ts';
import { fetchMetrics, parseExposition, type Sample, valueOf } from '../helpers/exposition.ts';
import { reservePort } from '../helpers/ports.ts';
import { udpClient } from '../helpers/udp-client.ts';

const V4 = LOOPBACK.v4;
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

afterEach(killAll);

/** GET /metrics: checks the status and the content type, returns the text. */
async function scrapeText(port: number): Promise<string> {
  const answer = await fetchMetrics(port, STEP_MS, V4);
  if (answer.headers['content-type'] !== CONTENT_TYPE) throw new Error(`content type ${answer.headers['content-type']}`);
  return answer.body;
}

const scrape = async (port: number): Promise<Sample[]> => parseExposition(await scrapeText(port));

interface Metered {
  readonly proxy: ProxyProcess;
  readonly hostPort: number;
  readonly metricsPort: number;
  /** The five mapping labels every series must carry. */
  readonly labels: Readonly<Record<string, string>>;
}

/** Starts a proxy on 127.0.0.1 with GET /metrics on another OS-chosen port (and `env`). */
/**
 * build_info's data_path for a process serving only `proto`: the TCP relay (splice, stream) or the
 * UDP path (native, js) that DOCKER_PROXY_DATA_PATH picks; auto picks native where the addons are
 * next to the bundle (build/Release), as they are wherever the build succeeded.
 */
function expectedDataPath(proto: Proto): string {
  const word = process.env['DOCKER_PROXY_DATA_PATH'] || 'auto';
  const addonBuilt = existsSync(join(dirname(PROXY_BIN), '..', 'build', 'Release', proto === 'tcp' ? 'splice.node' : 'udp_proxy.node'));
  const native = ['native', 'splice'].includes(word) || (word === 'auto' && addonBuilt);
  if (proto === 'tcp') return native ? 'splice' : 'stream';
  return native ? 'native' : 'js';
}

async function startMetered(proto: Proto, containerPort: number, env: Readonly<Record<string, string>> = {}): Promise<Metered> {
  const held = await listenTcp({ host: V4 }); // held while the host port is chosen, so the two differ
  const metricsPort = portOf(held);
  const hostPort = await reservePort(proto, V4);
  await closeSocket(held);
  const proxy = await startProxy({ proto, hostIp: V4, hostPort, containerIp: V4, containerPort },
    { env: { DOCKER_PROXY_METRICS_ADDR: `${V4}:${metricsPort}`, ...env } });
  const labels = { proto, host_ip: V4, host_port: String(hostPort), container_ip: V4, container_port: String(containerPort) };
  return { proxy, hostPort, metricsPort, labels };
}

/** Every sample (docker_proxy_* and the process/Node ones) carries the mapping's five labels. */
function assertMappingLabels(samples: readonly Sample[], labels: Readonly<Record<string, string>>): void {
  assert.ok(samples.length > 0);
  for (const s of samples) {
    for (const [key, value] of Object.entries(labels)) {
      assert.equal(s.labels.get(key), value, `${key} on ${s.name}{${[...s.labels].map(([k, v]) => `${k}="${v}"`).join(',')}}`);
    }
  }
}

/** Waits until the peer has closed the connection (FIN or reset), then drops the socket. */
const closedByPeer = (sock: net.Socket): Promise<void> => withTimeout(new Promise<void>((resolve) => {
  sock.once('end', () => sock.destroy()); // allowHalfOpen: our side stays open until told
  if (sock.destroyed) resolve();
  else sock.once('close', () => resolve());
}), STEP_MS, 'the proxy to close a client connection');

const H2C = { direction: 'host_to_container' };
const C2H = { direction: 'container_to_host' };

describe('TCP metrics', needs('extensions'), () => {
  it('3 connections of N bytes up and M down: totals, bytes, histograms, active back to 0, labels, build_info', async () => {
    const [N, M] = [10_000, 3_333];
    const replyM: TcpBehaviour = (sock) => {
      sock.on('data', () => undefined);
      sock.once('end', () => sock.end(Buffer.alloc(M, 'm')));
    };
    const backend = await startTcpBackend(V4, replyM);
    try {
      const { hostPort, metricsPort, labels } = await startMetered('tcp', backend.port);
      for (let i = 0; i < 3; i += 1) {
        assert.equal((await tcpRoundTrip(V4, hostPort, Buffer.alloc(N, 'n'))).length, M);
      }
      let samples: Sample[] = [];
      // Both sockets close just after the client saw the reply: wait for the proxy to notice.
      await pollUntil(async () => {
        samples = await scrape(metricsPort);
        return valueOf(samples, 'docker_proxy_connections_active') === 0
          && valueOf(samples, 'docker_proxy_connection_duration_seconds_count') === 3;
      }, STEP_MS, 'connections_active 0 and 3 connection durations');
      assert.equal(valueOf(samples, 'docker_proxy_connections_total'), 3);
      assert.equal(valueOf(samples, 'docker_proxy_bytes_total', H2C), 3 * N);
      assert.equal(valueOf(samples, 'docker_proxy_bytes_total', C2H), 3 * M);
      assert.equal(valueOf(samples, 'docker_proxy_backend_connect_duration_seconds_count'), 3);
      assert.equal(valueOf(samples, 'docker_proxy_backend_connect_duration_seconds_bucket', { le: '+Inf' }), 3);
      assert.equal(valueOf(samples, 'docker_proxy_connection_duration_seconds_bucket', { le: '+Inf' }), 3);
      assert.ok((valueOf(samples, 'docker_proxy_connection_duration_seconds_sum') ?? 0) > 0);
      assert.equal(samples.filter((s) => s.name === 'docker_proxy_backend_connect_errors_total').length, 0);
      assert.equal(samples.filter((s) => s.name.startsWith('docker_proxy_udp_')).length, 0, 'no UDP series on a TCP mapping');
      assertMappingLabels(samples, labels);
      const info = samples.filter((s) => s.name === 'docker_proxy_build_info');
      assert.equal(info.length, 1);
      assert.equal(info[0]?.value, 1);
      assert.equal(info[0]?.labels.get('data_path'), expectedDataPath('tcp'));
      assert.match(info[0]?.labels.get('version') ?? '', /\S/);
      // Without a metrics dir, prom-client's default series keep their usual names.
      assert.ok(samples.some((s) => s.name === 'process_cpu_user_seconds_total'));
    } finally {
      await backend.close();
    }
  });

  it('an open connection is active and its bytes are counted before it closes', async () => {
    const backend = await startTcpBackend(V4, echo);
    try {
      const { hostPort, metricsPort } = await startMetered('tcp', backend.port);
      const sock = await connectTcp(V4, hostPort);
      const N = 4_096;
      let echoed = 0;
      sock.on('data', (chunk: Buffer) => { echoed += chunk.length; });
      sock.write(Buffer.alloc(N, 'e'));
      await pollUntil(() => echoed === N, STEP_MS, `${N} bytes echoed`);
      const open = await scrape(metricsPort);
      assert.equal(valueOf(open, 'docker_proxy_connections_active'), 1);
      assert.equal(valueOf(open, 'docker_proxy_bytes_total', H2C), N);
      assert.equal(valueOf(open, 'docker_proxy_bytes_total', C2H), N);
      assert.equal(valueOf(open, 'docker_proxy_backend_connect_duration_seconds_count'), 1);
      assert.equal(valueOf(open, 'docker_proxy_connection_duration_seconds_count'), undefined, 'observed only at close');
      sock.end();
      await closedByPeer(sock); // the echo backend passes our FIN back
      await pollUntil(async () => valueOf(await scrape(metricsPort), 'docker_proxy_connections_active') === 0,
        STEP_MS, 'connections_active back to 0');
    } finally {
      await backend.close();
    }
  });

  it('a refused backend counts backend_connect_errors_total{reason="ECONNREFUSED"} once per attempt', async () => {
    const containerPort = await reservePort('tcp', V4); // nothing listens there
    const { hostPort, metricsPort } = await startMetered('tcp', containerPort);
    const ATTEMPTS = 4;
    for (let i = 0; i < ATTEMPTS; i += 1) {
      const sock = await connectTcp(V4, hostPort);
      sock.on('error', () => undefined); // the proxy resets it: that is the behaviour under test
      sock.resume();
      await closedByPeer(sock);
    }
    let samples: Sample[] = [];
    await pollUntil(async () => {
      samples = await scrape(metricsPort);
      return valueOf(samples, 'docker_proxy_connections_active') === 0;
    }, STEP_MS, 'connections_active 0');
    assert.equal(valueOf(samples, 'docker_proxy_backend_connect_errors_total', { reason: 'ECONNREFUSED' }), ATTEMPTS);
    assert.equal(valueOf(samples, 'docker_proxy_connections_total'), ATTEMPTS);
    assert.equal(valueOf(samples, 'docker_proxy_backend_connect_duration_seconds_count'), undefined, 'no successful connect');
  });
});

describe('UDP metrics', needs('extensions'), () => {
  it('K clients × D datagrams of known sizes: flows, datagrams and bytes each way, labels, build_info', async () => {
    const [K, D] = [3, 4];
    const size = (k: number, d: number): number => 20 + 100 * k + 7 * d;
    const backend = await startUdpBackend(V4);
    const clients = await Promise.all(Array.from({ length: K }, () => udpClient(V4)));
    try {
      const { hostPort, metricsPort, labels } = await startMetered('udp', backend.port);
      let bytes = 0;
      for (const [k, client] of clients.entries()) {
        for (let d = 0; d < D; d += 1) {
          const reply = await client.request(Buffer.alloc(size(k, d), 'u'), hostPort);
          assert.equal(reply.payload.length, size(k, d));
          bytes += size(k, d);
        }
      }
      const samples = await scrape(metricsPort);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_total'), K);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_active'), K);
      assert.equal(valueOf(samples, 'docker_proxy_udp_datagrams_total', H2C), K * D);
      assert.equal(valueOf(samples, 'docker_proxy_udp_datagrams_total', C2H), K * D);
      assert.equal(valueOf(samples, 'docker_proxy_bytes_total', H2C), bytes);
      assert.equal(valueOf(samples, 'docker_proxy_bytes_total', C2H), bytes);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'idle' }), 0);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'evicted' }), 0);
      assert.equal(samples.filter((s) => s.name === 'docker_proxy_udp_dropped_total' && s.value !== 0).length, 0);
      assert.equal(samples.filter((s) => s.name.startsWith('docker_proxy_connections_')).length, 0, 'no TCP series');
      assertMappingLabels(samples, labels);
      assert.equal(valueOf(samples, 'docker_proxy_build_info'), 1);
      assert.equal(samples.find((s) => s.name === 'docker_proxy_build_info')?.labels.get('data_path'), expectedDataPath('udp'));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await backend.close();
    }
  });

  it('DOCKER_PROXY_UDP_MAX_FLOWS=2 and 3 clients: flows_expired_total{reason="evicted"} 1', async () => {
    const backend = await startUdpBackend(V4);
    const clients = await Promise.all(Array.from({ length: 3 }, () => udpClient(V4)));
    try {
      const { hostPort, metricsPort } = await startMetered('udp', backend.port, { DOCKER_PROXY_UDP_MAX_FLOWS: '2' });
      for (const client of clients) await client.request('hello', hostPort);
      const samples = await scrape(metricsPort);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'evicted' }), 1);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'idle' }), 0);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_total'), 3);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_active'), 2);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await backend.close();
    }
  });

  it('DOCKER_PROXY_UDP_IDLE_TIMEOUT=300ms: idle flows are counted as expired{reason="idle"}', async () => {
    const backend = await startUdpBackend(V4);
    const clients = await Promise.all(Array.from({ length: 2 }, () => udpClient(V4)));
    try {
      const { hostPort, metricsPort } = await startMetered('udp', backend.port, { DOCKER_PROXY_UDP_IDLE_TIMEOUT: '300ms' });
      for (const client of clients) await client.request('hello', hostPort);
      let samples: Sample[] = [];
      // A flow lives 1× to 2× the timeout after its last datagram.
      await pollUntil(async () => {
        samples = await scrape(metricsPort);
        return valueOf(samples, 'docker_proxy_udp_flows_active') === 0;
      }, 3_000, 'both flows expired');
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'idle' }), 2);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_expired_total', { reason: 'evicted' }), 0);
      assert.equal(valueOf(samples, 'docker_proxy_udp_flows_total'), 2);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await backend.close();
    }
  });
});

/** The contract's own families: equal in the file and over HTTP (prom-client's defaults change between renders). */
const OWN = /^docker_proxy_(connections|bytes|backend|connection_|accept|udp|build_info)/;
const ownSeries = (samples: readonly Sample[]): string[] => samples.filter((s) => OWN.test(s.name))
  .map((s) => `${s.name}{${[...s.labels].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',')}} ${s.value}`)
  .sort();

describe('DOCKER_PROXY_METRICS_DIR: the textfile', needs('extensions'), () => {
  it('exists once started, follows the traffic within the interval, holds the HTTP series, is only ever replaced whole', async () => {
    const dir = shareWithProxy(mkdtempSync(join(tmpdir(), 'docker-proxy-metrics-')));
    const backend = await startTcpBackend(V4, echo);
    try {
      const { proxy, hostPort, metricsPort, labels } = await startMetered('tcp', backend.port,
        { DOCKER_PROXY_METRICS_DIR: dir, DOCKER_PROXY_METRICS_INTERVAL: '200ms' });
      const name = `tcp_${V4}_${hostPort}.prom`;
      const file = join(dir, name);
      assert.equal(valueOf(parseExposition(readFileSync(file, 'utf8')), 'docker_proxy_connections_total'), 0, 'written before "0\\n"');
      for (let i = 0; i < 2; i += 1) await tcpRoundTrip(V4, hostPort, 'ping');
      let fileSamples: Sample[] = [];
      await pollUntil(() => {
        fileSamples = parseExposition(readFileSync(file, 'utf8'));
        return valueOf(fileSamples, 'docker_proxy_connections_total') === 2
          && valueOf(fileSamples, 'docker_proxy_connections_active') === 0;
      }, 2_000, 'the file to show 2 closed connections (interval 200ms)');
      assertMappingLabels(fileSamples, labels);
      // prom-client's process/Node series are prefixed so they cannot clash with node_exporter's own.
      assert.ok(fileSamples.some((s) => s.name === 'docker_proxy_process_cpu_user_seconds_total'));
      assert.deepEqual(fileSamples.filter((s) => !s.name.startsWith('docker_proxy_')).map((s) => s.name), []);
      // Traffic has stopped: after the next rewrite the file and the endpoint agree exactly.
      const before = statSync(file).ino;
      await pollUntil(() => statSync(file).ino !== before, 2_000, 'a rewrite of the file');
      assert.deepEqual(ownSeries(parseExposition(readFileSync(file, 'utf8'))), ownSeries(await scrape(metricsPort)));
      // Read it as fast as possible across several rewrites: every read is a whole exposition.
      const families = (text: string): string => [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]).join(' ');
      const expected = families(readFileSync(file, 'utf8'));
      // A rename gives the path a new inode (the old number may come back later, so count changes).
      let [inode, replaced, reads] = [statSync(file).ino, 0, 0];
      await pollUntil(() => {
        const now = statSync(file).ino;
        if (now !== inode) [inode, replaced] = [now, replaced + 1];
        const text = readFileSync(file, 'utf8');
        reads += 1;
        assert.equal(families(text), expected, `read ${reads} saw a partial file`);
        parseExposition(text);
        return replaced >= 4;
      }, 3_000, 'four more rewrites of the file', 1);
      assert.deepEqual(readdirSync(dir), [name], 'no temporary file left next to it');
      assert.deepEqual(await proxy.stop('SIGINT', STEP_MS), { code: 0, signal: null });
      assert.deepEqual(readdirSync(dir), [], 'removed when the proxy stops');
    } finally {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`is removed when the proxy stops on ${signal} (UDP)`, async () => {
      const dir = shareWithProxy(mkdtempSync(join(tmpdir(), 'docker-proxy-metrics-')));
      try {
        const [hostPort, containerPort] = [await reservePort('udp', V4), await reservePort('udp', V4)];
        const proxy = await startProxy({ proto: 'udp', hostIp: V4, hostPort, containerIp: V4, containerPort },
          { env: { DOCKER_PROXY_METRICS_DIR: dir } });
        const samples = parseExposition(readFileSync(join(dir, `udp_${V4}_${hostPort}.prom`), 'utf8'));
        assert.equal(valueOf(samples, 'docker_proxy_udp_flows_total'), 0);
        assert.deepEqual(await proxy.stop(signal, STEP_MS), { code: 0, signal: null });
        assert.deepEqual(readdirSync(dir), []);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
