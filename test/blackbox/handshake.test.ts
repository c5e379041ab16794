// The process contract with dockerd (docs/design/engine-contract.md §2, §5): the status pipe on fd 3,
// exit codes, signals, and the listening socket handed over on fd 4.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { connectTcp, readToEnd, tcpRoundTrip } from '../helpers/client.ts';
import { echo, startTcpBackend, startUdpBackend, type TcpBackend } from '../helpers/backends.ts';
import { type Proto, LOOPBACK, bindUdp, closeSocket, listenTcp, portOf } from '../helpers/net.ts';
import { isRunning, listenBacklog } from '../helpers/proc.ts';
import { killAll, type Mapping, spawnMapping, startProxy } from '../helpers/spawn-proxy.ts';
import { needs } from '../helpers/target.ts';
import { STEP_MS, pollUntil, withTimeout } from '../helpers/timeout.ts';
import { reservePort } from '../helpers/ports.ts';
import { udpClient } from '../helpers/udp-client.ts';

const V4 = LOOPBACK.v4;

afterEach(killAll);

let backend: TcpBackend;
before(async () => { backend = await startTcpBackend(V4, echo); });
after(async () => { await backend.close(); });

/** A TCP mapping to the shared echo backend on a port nobody holds. */
async function tcpMapping(): Promise<Mapping & { hostPort: number }> {
  return { proto: 'tcp', hostIp: V4, hostPort: await reservePort('tcp', V4), containerIp: V4, containerPort: backend.port };
}

describe('success: fd 3 gets exactly "0\\n", then EOF, and the proxy keeps serving', () => {
  it('reports ready in one write and closes fd 3', async () => {
    const mapping = await tcpMapping();
    const proxy = spawnMapping(mapping);
    const status = await withTimeout(proxy.status, STEP_MS, 'EOF on fd 3 after "0\\n"');
    assert.deepEqual(status, { text: '0\n', chunks: 1 });
    assert.ok(isRunning(proxy.pid), 'still running after closing fd 3');
    assert.equal((await tcpRoundTrip(V4, mapping.hostPort, 'ready')).toString(), 'ready');
  });
});

describe('failure: fd 3 gets "1\\n" and the error, exit 1', () => {
  for (const proto of ['tcp', 'udp'] as const satisfies readonly Proto[]) {
    it(`${proto} host port already in use (fallback mode)`, async () => {
      const holder = proto === 'tcp' ? await listenTcp({ host: V4 }) : await bindUdp(V4);
      try {
        const proxy = spawnMapping({ proto, hostIp: V4, hostPort: portOf(holder), containerIp: V4, containerPort: backend.port });
        const status = await withTimeout(proxy.status, STEP_MS, 'status on fd 3');
        assert.match(status.text, /^1\n.*address already in use/s);
        assert.deepEqual(await withTimeout(proxy.exited, STEP_MS, 'exit'), { code: 1, signal: null });
      } finally {
        await closeSocket(holder);
      }
    });
  }

  const protos = [
    // 20.10 tries SCTP and fails on this kind of machine only because the kernel has no SCTP.
    { proto: 'sctp', message: /sctp/i },
    { proto: 'foo', message: /unsupported protocol foo/ },
  ];
  for (const { proto, message } of protos) {
    it(`-proto ${proto} exits 1`, async () => {
      const proxy = spawnMapping({ ...(await tcpMapping()), proto });
      assert.deepEqual(await withTimeout(proxy.exited, STEP_MS, 'exit'), { code: 1, signal: null });
    });
    it(`-proto ${proto} is reported on fd 3`, needs('fd3-all-errors'), async () => {
      const proxy = spawnMapping({ ...(await tcpMapping()), proto });
      const status = await withTimeout(proxy.status, STEP_MS, 'status on fd 3');
      assert.ok(status.text.startsWith('1\n'), `fd 3 was ${JSON.stringify(status.text)}`);
      assert.match(status.text.slice(2), message);
    });
  }

  const mismatches = [
    { proto: 'tcp', socket: () => bindUdp(V4) },
    { proto: 'udp', socket: () => listenTcp({ host: V4 }) },
  ];
  for (const { proto, socket } of mismatches) {
    it(`-proto ${proto} with the wrong socket type on fd 4`, needs('listen-fd'), async () => {
      const listenSocket = await socket();
      const proxy = spawnMapping({ proto, hostIp: V4, hostPort: portOf(listenSocket), containerIp: V4,
        containerPort: backend.port, listenSocket });
      const status = await withTimeout(proxy.status, STEP_MS, 'status on fd 3');
      assert.ok(status.text.startsWith('1\n') && status.text.length > 2, `fd 3 was ${JSON.stringify(status.text)}`);
      assert.deepEqual(await withTimeout(proxy.exited, STEP_MS, 'exit'), { code: 1, signal: null });
    });
  }
});

describe('without fd 3 (run by hand) the proxy still starts and serves', () => {
  it('serves TCP', needs('runs-without-fd3'), async () => {
    const mapping = await tcpMapping();
    const proxy = spawnMapping(mapping, { statusPipe: false });
    // No status to wait for: poll until the port accepts, as a person at a shell would.
    await pollUntil(() => new Promise<boolean>((resolve) => {
      const probe = net.connect({ host: V4, port: mapping.hostPort }, () => { probe.destroy(); resolve(true); });
      probe.once('error', () => resolve(false));
    }), STEP_MS, 'the proxy to listen without fd 3');
    assert.equal((await tcpRoundTrip(V4, mapping.hostPort, 'by hand')).toString(), 'by hand');
    assert.deepEqual(await proxy.stop(), { code: 0, signal: null });
  });
});

describe('SIGINT and SIGTERM: exit 0 within 1 s, port closed, live connections dropped', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`tcp ${signal}`, async () => {
      const mapping = await tcpMapping();
      const proxy = await startProxy(mapping);
      const live = await connectTcp(V4, mapping.hostPort);
      const dropped = readToEnd(live).then(() => 'eof', () => 'error');
      // An echo proves the pair is established through the proxy. (It also gives 20.10 time to
      // install its signal handler, which it does in a goroutine racing the "0\n" write.)
      live.write('x');
      await withTimeout(once(live, 'data'), STEP_MS, 'echo on the live connection');
      assert.deepEqual(await proxy.stop(signal), { code: 0, signal: null });
      assert.ok(['eof', 'error'].includes(await withTimeout(dropped, STEP_MS, 'live connection to drop')));
      live.destroy();
      // The port is free again: the test can listen on it (the proxy's socket is gone).
      await closeSocket(await listenTcp({ host: V4, port: mapping.hostPort }));
    });
    it(`udp ${signal}`, async () => {
      const udpBackend = await startUdpBackend(V4);
      const client = await udpClient(V4);
      try {
        const hostPort = await reservePort('udp', V4);
        const proxy = await startProxy({ proto: 'udp', hostIp: V4, hostPort, containerIp: V4, containerPort: udpBackend.port });
        assert.equal((await client.request('before stop', hostPort)).payload.toString(), 'before stop');
        assert.deepEqual(await proxy.stop(signal), { code: 0, signal: null });
        await closeSocket(await bindUdp(V4, hostPort));
      } finally {
        await client.close();
        await udpBackend.close();
      }
    });
  }
});

describe('-use-listen-fd: the socket on fd 4 is used as it is', () => {
  it('ignores -host-port and keeps the engine\'s backlog (somaxconn), not Node\'s 511', needs('listen-fd'), async () => {
    // dockerd listens with -1, which the kernel caps at somaxconn. Node must call listen() again on
    // an adopted fd and cannot read the old backlog, so the contract is: somaxconn, never 511.
    const backlog = Number.parseInt(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), 10);
    assert.notEqual(backlog, 511, 'this machine\'s somaxconn equals Node\'s default; the test could not tell them apart');
    const listenSocket = await listenTcp({ host: V4, backlog });
    const hostPort = portOf(listenSocket);
    // A port held by the test: a proxy that tried to bind -host-port would fail to start.
    const held = await listenTcp({ host: V4 });
    try {
      await startProxy({ proto: 'tcp', hostIp: V4, hostPort: portOf(held), containerIp: V4,
        containerPort: backend.port, listenSocket });
      assert.equal((await tcpRoundTrip(V4, hostPort, 'fd 4')).toString(), 'fd 4');
      assert.equal(listenBacklog(hostPort), backlog, 'Send-Q of the listener in ss -ltn');
    } finally {
      await closeSocket(held);
    }
  });
});
