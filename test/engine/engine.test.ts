// docker-proxy under a real dockerd (Debian's 20.10) on this machine: dockerd spawns the
// binary under test as its --userland-proxy-path for `docker run -p 127.0.0.1:…`, and real
// traffic goes through it to a container. Needs root; installs what it needs from Debian.
// Run: node --import tsx --test test/engine/engine.test.ts  (DOCKER_PROXY_BIN picks the binary)
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { connectTcp, readToEnd, sha256 } from '../helpers/client.ts';
import { closeSocket, listenTcp, portOf } from '../helpers/net.ts';
import { threads } from '../helpers/proc.ts';
import { PROXY_USER_ID, shareWithProxy } from '../helpers/proxy-user.ts';
import { PROXY_BIN, has, needs } from '../helpers/target.ts';
import { pollUntil, withTimeout } from '../helpers/timeout.ts';
import { Engine } from './engine.ts';
import { ExitWatcher, isRunning } from './procs.ts';
import { expectedFlags, mappingKey, proxyFlags, type ProxyArgs } from './proxy-argv.ts';
import { HOST_IP, udpExchange } from './traffic.ts';
import { httpRequest } from '../helpers/http.ts';
import { reservePort } from '../helpers/ports.ts';

const IMAGE = 'dpe-test:latest';
const WEB = 'dpe-web';
const BLOB_BYTES = 10 << 20;
/**
 * The container: busybox httpd on 80 (an index page, a 10 MiB random blob and its sha256
 * computed inside the container), a socat UDP echo on 5353, and on 9000 a socat sink that
 * answers each connection with the sha256 of everything it read. /www/ready comes last.
 */
const WEB_SCRIPT = [
  "trap 'exit 0' TERM INT",
  'socat -T 5 -b 65536 UDP4-RECVFROM:5353,fork PIPE &',
  'socat TCP4-LISTEN:9000,fork,reuseaddr SYSTEM:sha256sum &',
  'echo hello from the engine suite > /www/index.html',
  `dd if=/dev/urandom of=/www/blob bs=1048576 count=${BLOB_BYTES >> 20} 2>/dev/null`,
  'sha256sum /www/blob > /www/blob.sha256',
  'httpd -p 80 -h /www',
  'touch /www/ready',
  'wait',
].join('\n');
/** What dockerd logs when stopping a proxy goes wrong (v28+ words; 20.10 logs nothing). */
const STOP_COMPLAINTS = [/failed to stop userland proxy/i, /userland proxy exited early/i, /exit status [1-9]/];

/** Where the engine's proxies write their metrics: dockerd passes its environment on to them. */
const METRICS_DIR = has('extensions') ? shareWithProxy(mkdtempSync('/tmp/dpe-metrics-')) : undefined;

/** One sample of a textfile, e.g. sample(text, 'docker_proxy_bytes_total', 'direction="host_to_container"'). */
function sample(text: string, name: string, labelPart = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labelPart));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function metricsFile(proto: string, port: number): string {
  return `${METRICS_DIR ?? ''}/${proto}_${HOST_IP}_${port}.prom`;
}

let engineRef: Engine | undefined;
let exitsRef: ExitWatcher | undefined;
function engine(): Engine {
  if (engineRef === undefined) throw new Error('the private dockerd did not start (see the before hook)');
  return engineRef;
}
function exits(): ExitWatcher {
  if (exitsRef === undefined) throw new Error('the exit watcher did not start (see the before hook)');
  return exitsRef;
}

interface Ports { readonly http: number; readonly udp: number; readonly sink: number }
let portsRef: Ports | undefined;
function ports(): Ports {
  if (portsRef === undefined) throw new Error('no host ports were chosen (see the before hook)');
  return portsRef;
}

/** Waits until the container serves through every proxy (the proxies accept before it listens). */
async function waitServing(ms = 30_000): Promise<void> {
  await pollUntil(async () => (await httpRequest(ports().http, '/ready').catch(() => undefined))?.status === 200,
    ms, 'the container serving /ready through the proxy');
  await pollUntil(async () => (await udpExchange(ports().udp, Buffer.from('ping'), 500).catch(() => undefined)) !== undefined,
    ms, 'the container echoing UDP through the proxy');
}

/** The mappings dockerd should have spawned proxies for, one per published port. */
async function expectedMappings(): Promise<ProxyArgs[]> {
  const containerIp = await engine().mustDocker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', WEB]);
  // dockerd passes a bound socket on fd 4 (and says so in argv) from v28 on.
  const version = await engine().mustDocker(['version', '-f', '{{.Server.Version}}']);
  const useListenFd = Number(version.split('.')[0]) >= 28;
  const mapping = (proto: string, hostPort: number, containerPort: number): ProxyArgs =>
    ({ proto, hostIp: HOST_IP, hostPort, containerIp, containerPort, useListenFd });
  return [mapping('tcp', ports().http, 80), mapping('udp', ports().udp, 5353), mapping('tcp', ports().sink, 9000)];
}

function assertProxiesMatch(expected: readonly ProxyArgs[]): string[] {
  const spawned = engine().proxies().filter((p) => expected.some((e) => e.hostPort === p.args.hostPort));
  assert.deepEqual(spawned.map((p) => mappingKey(p.args)).sort(), expected.map(mappingKey).sort(),
    `dockerd's proxy children:\n${spawned.map((p) => p.argv.join(' ')).join('\n')}`);
  for (const want of expected) {
    const got = spawned.find((p) => p.args.hostPort === want.hostPort && p.args.proto === want.proto);
    assert.ok(got, `no proxy for ${mappingKey(want)}`);
    assert.deepEqual(proxyFlags(got.argv, engine().proxyPath), expectedFlags(want));
  }
  return spawned.map((p) => p.argv.join(' '));
}

describe(`docker-proxy ${PROXY_BIN} under a private dockerd`, { timeout: 900_000 }, () => {
  before(async () => {
    if (METRICS_DIR !== undefined) {
      // Only dockerd (and so its proxies) must see these, not the rest of this test process.
      process.env['DOCKER_PROXY_METRICS_DIR'] = METRICS_DIR;
      process.env['DOCKER_PROXY_METRICS_INTERVAL'] = '200ms';
    }
    try {
      engineRef = await Engine.start(PROXY_BIN);
    } finally {
      delete process.env['DOCKER_PROXY_METRICS_DIR'];
      delete process.env['DOCKER_PROXY_METRICS_INTERVAL'];
    }
    exitsRef = await ExitWatcher.start();
    await engine().buildTestImage(IMAGE);
    portsRef = {
      http: await reservePort('tcp', HOST_IP), udp: await reservePort('udp', HOST_IP), sink: await reservePort('tcp', HOST_IP),
    };
    await engine().mustDocker(['run', '-d', '--name', WEB,
      '-p', `${HOST_IP}:${ports().http}:80`, '-p', `${HOST_IP}:${ports().udp}:5353/udp`, '-p', `${HOST_IP}:${ports().sink}:9000`,
      IMAGE, '/bin/sh', '-c', WEB_SCRIPT]);
    await waitServing();
  }, { timeout: 720_000 });

  after(async () => {
    await exitsRef?.stop();
    await engineRef?.stop();
    if (METRICS_DIR !== undefined) rmSync(METRICS_DIR, { recursive: true, force: true });
  }, { timeout: 240_000 });

  it('is spawned by dockerd once per published port, with dockerd\'s exact argv', async (t) => {
    for (const argv of assertProxiesMatch(await expectedMappings())) t.diagnostic(argv);
  });

  it('carries two HTTP requests on two connections', async () => {
    const index = await httpRequest(ports().http, '/index.html');
    assert.equal(index.status, 200);
    assert.equal(index.body, 'hello from the engine suite\n');
    const sum = await httpRequest(ports().http, '/blob.sha256');
    assert.equal(sum.status, 200);
    assert.match(sum.body, /^[0-9a-f]{64} {2}\/www\/blob\n$/);
  });

  it('echoes UDP datagrams, replying from the published port', async () => {
    for (const size of [1, 1400, 32_000]) {
      const payload = randomBytes(size);
      const reply = await udpExchange(ports().udp, payload);
      assert.ok(reply.payload.equals(payload), `a ${size}-byte datagram came back changed`);
      assert.equal(reply.fromPort, ports().udp);
      assert.equal(reply.fromAddress, HOST_IP);
    }
  });

  it('moves 10 MiB each way intact (sha256 taken inside the container)', async (t) => {
    const started = Date.now();
    const download = await httpRequest(ports().http, '/blob', 'GET', 60_000);
    assert.equal(download.bytes.length, BLOB_BYTES);
    const inContainer = (await httpRequest(ports().http, '/blob.sha256')).body.slice(0, 64);
    assert.equal(sha256(download.bytes), inContainer, 'the downloaded blob differs from the one in the container');

    const upload = randomBytes(BLOB_BYTES);
    const sock = await connectTcp(HOST_IP, ports().sink);
    const reply = readToEnd(sock);
    sock.end(upload); // the FIN tells sha256sum in the container that the data is complete
    const answer = (await withTimeout(reply, 60_000, 'sha256 from the container sink')).toString();
    sock.destroy();
    assert.equal(answer.slice(0, 64), createHash('sha256').update(upload).digest('hex'),
      'the container received different bytes than were sent');
    t.diagnostic(`2 x 10 MiB through the proxy in ${Date.now() - started} ms`);
  });

  it('fails `docker run` with the proxy\'s bind error when the host port is taken', async (t) => {
    const holder = await listenTcp({ host: HOST_IP });
    const port = portOf(holder);
    try {
      const result = await engine().docker(['run', '-d', '--name', 'dpe-conflict', '-p', `${HOST_IP}:${port}:80`,
        IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
      assert.notEqual(result.code, 0, 'docker run succeeded although the host port was held');
      // 20.10 says "Error starting userland proxy: <text>", v28+ "error starting userland proxy: <text>";
      // the text comes from the proxy through the fd 3 handshake.
      assert.match(result.stderr, /error starting userland proxy: .*address already in use/i);
      t.diagnostic(result.stderr.split('\n').find((line) => /userland proxy/i.test(line)) ?? '');
      assert.deepEqual(engine().proxies().filter((p) => p.args.hostPort === port), [],
        'a proxy for the held port is still running');
    } finally {
      await closeSocket(holder);
      await engine().docker(['rm', '-f', 'dpe-conflict']);
    }
  });

  it('exports metrics from the proxies dockerd spawned, through dockerd\'s environment', needs('extensions'), async () => {
    // Runs after the traffic above: the 10 MiB upload went through the sink's proxy.
    const sink = metricsFile('tcp', ports().sink);
    await pollUntil(() => existsSync(sink) && (sample(readFileSync(sink, 'utf8'), 'docker_proxy_bytes_total', 'host_to_container') ?? 0) >= BLOB_BYTES,
      10_000, `${sink} to count the 10 MiB upload`);
    const text = readFileSync(sink, 'utf8');
    const containerIp = await engine().mustDocker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', WEB]);
    assert.match(text, new RegExp(`docker_proxy_connections_total\\{proto="tcp",host_ip="${HOST_IP}",host_port="${ports().sink}",container_ip="${containerIp}",container_port="9000"\\} [1-9]`));
    assert.equal(sample(text, 'docker_proxy_bytes_total', 'container_to_host') !== undefined, true);
    assert.match(text, /docker_proxy_build_info\{version="[^"]+",data_path="(splice|stream)"/);
    const http = readFileSync(metricsFile('tcp', ports().http), 'utf8');
    assert.ok((sample(http, 'docker_proxy_connections_total') ?? 0) >= 4, 'the HTTP proxy counted the GETs of the tests above');
    assert.ok((sample(http, 'docker_proxy_bytes_total', 'container_to_host') ?? 0) >= BLOB_BYTES, 'the 10 MiB download');
    const udp = readFileSync(metricsFile('udp', ports().udp), 'utf8');
    assert.ok((sample(udp, 'docker_proxy_udp_datagrams_total', 'host_to_container') ?? 0) >= 3, 'the UDP echoes above');
    assert.ok((sample(udp, 'docker_proxy_udp_flows_total') ?? 0) >= 1);
  });

  it('runs every proxy dockerd spawned as nobody, with no_new_privs and seccomp on every thread', needs('extensions'), async () => {
    const expected = await expectedMappings();
    const running = engine().proxies().filter((p) => expected.some((e) => e.hostPort === p.args.hostPort));
    assert.equal(running.length, expected.length);
    const id = String(PROXY_USER_ID);
    for (const proxy of running) {
      const all = threads(proxy.pid);
      assert.ok(all.length >= 2, `proxy ${proxy.pid}: Node runs several threads`);
      for (const [index, thread] of all.entries()) {
        const which = `proxy ${proxy.pid} (${proxy.args.proto} ${proxy.args.hostPort}) thread ${index}`;
        assert.equal(thread.uid, `${id} ${id} ${id} ${id}`, `${which}: uids`);
        assert.equal(thread.gid, `${id} ${id} ${id} ${id}`, `${which}: gids`);
        assert.equal(thread.noNewPrivs, '1', `${which}: NoNewPrivs`);
        assert.equal(thread.seccomp, '2', `${which}: Seccomp`);
        // At most SYS_RESOURCE (24), for splice pipes, and only on the main thread.
        assert.equal(thread.capEff & ~(index === 0 ? 1n << 24n : 0n), 0n, `${which}: CapEff ${thread.capEff.toString(16)}`);
      }
    }
  });

  it('exits 0 on SIGINT when the container stops, and serves again after a restart', async (t) => {
    const expected = await expectedMappings();
    const running = engine().proxies().filter((p) => expected.some((e) => e.hostPort === p.args.hostPort));
    assert.equal(running.length, expected.length);
    const logFrom = engine().logSize();
    await engine().mustDocker(['stop', '-t', '10', WEB]);
    for (const proxy of running) {
      const status = await exits().exitOf(proxy.pid, 20_000);
      assert.deepEqual(status, { code: 0, signal: 0 }, `proxy ${proxy.argv.join(' ')} exited with ${JSON.stringify(status)}`);
      assert.equal(isRunning(proxy.pid), false);
    }
    if (METRICS_DIR !== undefined) {
      for (const port of [ports().http, ports().sink]) assert.equal(existsSync(metricsFile('tcp', port)), false, 'a stopped proxy removes its metrics file');
      assert.equal(existsSync(metricsFile('udp', ports().udp)), false, 'a stopped proxy removes its metrics file');
    }
    const stopLog = engine().logSince(logFrom);
    for (const complaint of STOP_COMPLAINTS) assert.doesNotMatch(stopLog, complaint);

    const started = Date.now();
    await engine().mustDocker(['start', WEB]);
    await waitServing();
    t.diagnostic(`docker start to serving: ${Date.now() - started} ms`);
    assertProxiesMatch(await expectedMappings());
    assert.equal((await httpRequest(ports().http, '/index.html')).status, 200);
    const payload = randomBytes(512);
    assert.ok((await udpExchange(ports().udp, payload)).payload.equals(payload));
  });

});
