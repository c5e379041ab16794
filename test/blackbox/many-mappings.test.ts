// Many mappings in one process (-p/--publish, --config, SIGHUP): ranges, IPv6 specs, atomic
// start-up, reloads that leave unchanged mappings and their live connections alone, bad specs.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { shareWithProxy } from '../helpers/proxy-user.ts';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { connectTcp, tcpRoundTrip } from '../helpers/client.ts';
import { echo, startTcpBackend, startUdpBackend, type TcpBackend } from '../helpers/backends.ts';
import { LOOPBACK, closeSocket, listenTcp, needsIpv6, portOf } from '../helpers/net.ts';
import { awaitReady, killAll, runToExit, spawnProxy, type ProxyProcess } from '../helpers/spawn-proxy.ts';
import { needs } from '../helpers/target.ts';
import { STEP_MS, pollUntil, withTimeout } from '../helpers/timeout.ts';
import { reservePort } from '../helpers/ports.ts';
import { udpClient } from '../helpers/udp-client.ts';

const V4 = LOOPBACK.v4;

/** The lowest port the kernel hands out to outgoing connections (ip_local_port_range). */
const EPHEMERAL_START = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? 32768);

/**
 * `count` consecutive TCP ports free on loopback a moment ago (for host ranges). They are drawn
 * below the ephemeral range: there, no outgoing connection of another test can take one of them
 * between this check and the proxy's bind.
 */
async function freeRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const start = 10_000 + Math.floor(Math.random() * Math.max(1, EPHEMERAL_START - 10_000 - count));
    const held = [];
    try {
      for (let offset = 0; offset < count; offset++) held.push(await listenTcp({ host: V4, port: start + offset }));
      return start;
    } catch {
      // One of them is taken: try another start.
    } finally {
      for (const server of held) await closeSocket(server);
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** Whether a TCP connection to the port is refused (nothing listening). */
async function refused(port: number): Promise<boolean> {
  try {
    (await connectTcp(V4, port)).destroy();
    return false;
  } catch {
    return true;
  }
}

let dir = '';
let backend: TcpBackend | undefined;
function backendPort(): number {
  if (backend === undefined) throw new Error('no backend');
  return backend.port;
}

describe('many mappings in one process', needs('extensions'), () => {
  before(async () => {
    dir = shareWithProxy(mkdtempSync(join(tmpdir(), 'dp-many-')));
    backend = await startTcpBackend(V4, echo);
  });
  after(async () => {
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(killAll);

  it('maps a host range onto one container port', async () => {
    const start = await freeRange(3);
    await awaitReady(spawnProxy(['-p', `${V4}:${start}-${start + 2}:${V4}:${backendPort()}`]));
    for (let port = start; port <= start + 2; port++) {
      assert.equal((await tcpRoundTrip(V4, port, `via ${port}`)).toString(), `via ${port}`);
    }
  });

  it('maps a host range onto a container range of the same length, and UDP with /udp', async () => {
    const hostStart = await freeRange(2);
    const first = await startTcpBackend(V4, (sock) => sock.end('first'));
    const second = await startTcpBackend(V4, (sock) => sock.end('second'), { port: first.port + 1 }).catch(() => undefined);
    const udp = await startUdpBackend(V4);
    const udpPort = await reservePort('udp', V4);
    try {
      if (second === undefined) return; // the port after `first` was taken: nothing to test with
      await awaitReady(spawnProxy(['--publish', `${V4}:${hostStart}-${hostStart + 1}:${V4}:${first.port}-${second.port}`,
        '-p', `${udpPort}:${V4}:${udp.port}/udp`]));
      assert.equal((await tcpRoundTrip(V4, hostStart, '')).toString(), 'first');
      assert.equal((await tcpRoundTrip(V4, hostStart + 1, '')).toString(), 'second');
      const client = await udpClient(V4);
      assert.equal((await client.request('datagram', udpPort)).payload.toString(), 'datagram');
      await client.close();
    } finally {
      await first.close();
      await second?.close();
      await udp.close();
    }
  });

  it('takes IPv6 specs in brackets', needsIpv6(), async () => {
    const v6Backend = await startTcpBackend(LOOPBACK.v6, echo);
    try {
      const port = await reservePort('tcp', LOOPBACK.v6);
      await awaitReady(spawnProxy(['-p', `[::1]:${port}:[::1]:${v6Backend.port}/tcp`]));
      assert.equal((await tcpRoundTrip(LOOPBACK.v6, port, 'six')).toString(), 'six');
    } finally {
      await v6Backend.close();
    }
  });

  it('binds all or nothing: one taken port fails start-up, names the mapping, and leaves nothing bound', async () => {
    const free = await reservePort('tcp', V4);
    const holder = await listenTcp({ host: V4 });
    const taken = portOf(holder);
    try {
      const result = await runToExit(['-p', `${V4}:${free}:${V4}:${backendPort()}`, '-p', `${V4}:${taken}:${V4}:${backendPort()}`]);
      assert.equal(result.exit.code, 1);
      assert.match(result.fd3, new RegExp(`^1\\nmapping tcp/${V4}:${taken} -> tcp/${V4}:${backendPort()}: failed to listen on ${V4}:${taken}: .*address already in use`));
      assert.equal(await refused(free), true, 'the first mapping was left bound after the failure');
    } finally {
      await closeSocket(holder);
    }
  });

  const badSpecs: Array<[string, RegExp]> = [
    ['127.0.0.1:70000:127.0.0.1:80', /host port 70000 is not a port/],
    ['8000-8002:127.0.0.1:80-81', /host range has 3 ports but the container range has 2/],
    ['8000:127.0.0.1:80/sctp', /unknown protocol "sctp"/],
    ['8000:127.0.0.256:80', /container address 127\.0\.0\.256 is not an IP address/],
    ['::1:8000:127.0.0.1:80', /expected \[HOST_IP:\]HOST_PORT/],
    ['8000:80', /expected \[HOST_IP:\]HOST_PORT/],
  ];
  for (const [spec, reason] of badSpecs) {
    it(`refuses the bad SPEC ${spec} (exit 2, naming it)`, async () => {
      const result = await runToExit(['-p', spec]);
      assert.equal(result.exit.code, 2);
      assert.equal(result.fd3, '');
      const [first = ''] = result.stderr.split('\n');
      assert.ok(first.startsWith(`invalid value "${spec}" for flag -p: `), first);
      assert.match(first, reason);
    });
  }

  it('refuses -p together with docker-proxy\'s own mapping flags', async () => {
    const result = await runToExit(['-host-port', '8000', '-p', `8000:${V4}:80`]);
    assert.equal(result.exit.code, 2);
    assert.match(result.stderr, /^-publish\/-p and -config replace -proto/);
  });

  describe('--config and SIGHUP', () => {
    let proxy: ProxyProcess | undefined;
    const file = (): string => join(dir, 'mappings.json');
    const write = (entries: readonly unknown[]): void => writeFileSync(file(), JSON.stringify({ mappings: entries }));

    it('opens new mappings, closes removed ones, keeps unchanged ones and their live connections', async () => {
      const [a, b, c] = [await reservePort('tcp', V4), await reservePort('tcp', V4), await reservePort('tcp', V4)];
      const spec = (port: number): string => `${V4}:${port}:${V4}:${backendPort()}`;
      // Both entry forms: a SPEC string and an object in docker-proxy's words.
      write([spec(a), { proto: 'tcp', hostIp: V4, hostPort: b, containerIp: V4, containerPort: backendPort() }]);
      const log = join(dir, 'reload.log');
      proxy = await awaitReady(spawnProxy(['--config', file()], { env: { DOCKER_PROXY_LOG_FILE: log } }));
      const live = await connectTcp(V4, a);
      const echoOnLive = async (text: string): Promise<string> => {
        const reply = new Promise<string>((resolve) => live.once('data', (chunk: Buffer) => resolve(chunk.toString())));
        live.write(text);
        return withTimeout(reply, STEP_MS, 'echo on the live connection');
      };
      assert.equal(await echoOnLive('before'), 'before');
      assert.equal((await tcpRoundTrip(V4, b, 'b')).toString(), 'b');

      write([spec(a), spec(c)]);
      proxy.child.kill('SIGHUP');
      await pollUntil(async () => !(await refused(c)) && (await refused(b)), STEP_MS, 'the reload to open c and close b');
      assert.equal((await tcpRoundTrip(V4, c, 'c')).toString(), 'c');
      assert.equal(await echoOnLive('after'), 'after', 'the live connection on the unchanged mapping survived');

      writeFileSync(file(), '{"mappings": ["not a spec"]}');
      proxy.child.kill('SIGHUP');
      await pollUntil(() => readFileSync(log, 'utf8').includes('reload failed'), STEP_MS, 'the bad reload to be logged');
      assert.equal(await echoOnLive('still'), 'still', 'a bad file keeps the running set');
      assert.equal((await tcpRoundTrip(V4, c, 'kept')).toString(), 'kept');
      live.destroy();
      assert.deepEqual(await proxy.stop('SIGINT'), { code: 0, signal: null });
    });

    it('a bad config file at start-up is a start-up error on fd 3', async () => {
      writeFileSync(file(), '{"mappings": [1]}');
      const result = await runToExit(['--config', file()]);
      assert.equal(result.exit.code, 1);
      assert.match(result.fd3, /^1\nconfig file .*mappings\.json: mappings\[0\] must be a SPEC string or an object/);
    });
  });
});
