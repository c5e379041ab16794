// docker-proxy started exactly as a moby v28+ engine starts it, without dockerd (docs/design/engine-contract.md §2):
// the socket made, bound and (TCP) listening like osallocator_linux.go, passed on fd 4 with
// -use-listen-fd last in argv, a real pipe on fd 3 read like StartProxy, SIGINT to stop.
// Run: node --import tsx --test test/engine/v28-harness.test.ts  (DOCKER_PROXY_BIN picks the binary)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { sha256, tcpRoundTrip } from '../helpers/client.ts';
import { replyAfterEof, startTcpBackend, startUdpBackend } from '../helpers/backends.ts';
import { LOOPBACK, needsIpv6 } from '../helpers/net.ts';
import { PROXY_BIN, needs } from '../helpers/target.ts';
import { V28Proxy, type V28Options } from './v28-harness.ts';
import { udpClient } from '../helpers/udp-client.ts';

const FAMILIES = [
  { name: 'IPv4', host: LOOPBACK.v4, options: {} },
  { name: 'IPv6', host: LOOPBACK.v6, options: needsIpv6() },
] as const;

const started: V28Proxy[] = [];
after(() => { for (const proxy of started) proxy.kill(); });

/** Starts the proxy like v28 dockerd and checks the handshake: one "0\n", then fd 3 closed. */
async function startReady(opts: Omit<V28Options, 'proxy'>): Promise<V28Proxy> {
  const proxy = await V28Proxy.start({ proxy: PROXY_BIN, ...opts });
  started.push(proxy);
  const status = await proxy.status();
  assert.deepEqual({ ok: status.ok, head: status.head, error: status.error }, { ok: true, head: '0\n', error: null },
    `dockerd would report: ${status.error ?? ''}`);
  assert.deepEqual(await proxy.fd3(), { closed: true, extra: '' }, 'fd 3 must be closed right after "0\\n"');
  return proxy;
}

/** dockerd's stop: SIGINT, then the exit status must be 0 (anything else is logged as a failure). */
async function assertCleanStop(proxy: V28Proxy): Promise<void> {
  assert.deepEqual(await proxy.exit(), { code: 0, signal: null, stopped: true, killed: false });
}

describe('docker-proxy started like a v28+ dockerd (socket on fd 4, status pipe on fd 3)', needs('listen-fd'), () => {
  for (const family of FAMILIES) {
    it(`TCP ${family.name}: ready, half-close round trips, exit 0 on SIGINT`, family.options, async () => {
      const backend = await startTcpBackend(family.host, replyAfterEof);
      try {
        const proxy = await startReady({ proto: 'tcp', hostIp: family.host, containerIp: family.host, containerPort: backend.port });
        for (const payload of [Buffer.from('Buffalo1 buffalo2 Buffalo3 buffalo4'), randomBytes(4 << 20)]) {
          const reply = await tcpRoundTrip(family.host, proxy.port, payload, 20_000);
          assert.equal(sha256(reply), sha256(payload));
        }
        assert.equal(backend.accepted(), 2);
        await assertCleanStop(proxy);
      } finally {
        await backend.close();
      }
    });

    it(`UDP ${family.name}: echo from the port the client sent to, exit 0 on SIGINT`, family.options, async () => {
      const backend = await startUdpBackend(family.host);
      const client = await udpClient(family.host);
      try {
        const proxy = await startReady({ proto: 'udp', hostIp: family.host, containerIp: family.host, containerPort: backend.port });
        for (const size of [1, 1400, 65_507]) {
          const payload = randomBytes(size);
          const reply = await client.request(payload, proxy.port);
          assert.ok(reply.payload.equals(payload), `a ${size}-byte datagram came back changed`);
          assert.equal(reply.fromPort, proxy.port, 'the reply came from another port than the client sent to');
        }
        await assertCleanStop(proxy);
      } finally {
        await client.close();
        await backend.close();
      }
    });
  }

  it('keeps the listen backlog the daemon chose (listen(fd, -1) is net.core.somaxconn)', async () => {
    const backend = await startTcpBackend(LOOPBACK.v4, replyAfterEof);
    try {
      const proxy = await startReady({ proto: 'tcp', hostIp: LOOPBACK.v4, containerIp: LOOPBACK.v4, containerPort: backend.port });
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
      // For a listening socket, ss shows the backlog in the Send-Q column.
      const line = execFileSync('ss', ['-Hltn', `sport = :${proxy.port}`], { encoding: 'utf8' }).trim();
      const backlog = Number(line.split(/\s+/)[2]);
      assert.equal(backlog, somaxconn, `ss: ${line}`);
      await assertCleanStop(proxy);
    } finally {
      await backend.close();
    }
  });

  for (const { proto, socketProto } of [{ proto: 'tcp', socketProto: 'udp' }, { proto: 'udp', socketProto: 'tcp' }] as const) {
    it(`-proto ${proto} with a ${socketProto} socket on fd 4: "1\\n<error>" on fd 3, exit 1`, async () => {
      const proxy = await V28Proxy.start({
        proxy: PROXY_BIN, proto, socketProto, hostIp: LOOPBACK.v4, containerIp: LOOPBACK.v4, containerPort: 9,
      });
      started.push(proxy);
      const status = await proxy.status();
      assert.equal(status.head, '1\n');
      assert.notEqual(status.rest, '', 'the error text after "1\\n" is empty');
      assert.equal(status.error, `error starting userland proxy: ${status.rest}`);
      assert.deepEqual(await proxy.exit(false), { code: 1, signal: null, stopped: false, killed: false });
    });
  }
});
