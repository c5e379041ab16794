// UDP forwarding (docs/design/engine-contract.md §4, §5) in fallback and fd mode.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { type UdpBackend, startUdpBackend } from '../helpers/backends.ts';
import { MODES, startMapped } from '../helpers/mapping.ts';
import { LOOPBACK, needsIpv6 } from '../helpers/net.ts';
import { icmpInDestUnreachs, isRunning } from '../helpers/proc.ts';
import { killAll } from '../helpers/spawn-proxy.ts';
import { allOf, needs } from '../helpers/target.ts';
import { STEP_MS, pollUntil } from '../helpers/timeout.ts';
import { reservePort } from '../helpers/ports.ts';
import { type UdpClient, udpClient } from '../helpers/udp-client.ts';

const V4 = LOOPBACK.v4;
const CLIENTS = 50;
const PER_CLIENT = 5;
const MAX_DATAGRAM = 65_507; // the largest IPv4 UDP payload, and docker-proxy's buffer size

afterEach(killAll);

/** Runs `body` with an echo backend and client on `host`, closing both afterwards. */
async function withPeers(host: string, body: (b: UdpBackend, c: UdpClient) => Promise<void>): Promise<void> {
  const backend = await startUdpBackend(host);
  const client = await udpClient(host);
  try { await body(backend, client); } finally { await client.close(); await backend.close(); }
}

describe('UDP echo; the reply comes from the host port the client sent to', () => {
  const families = [
    { name: 'IPv4', host: V4, options: {} },
    { name: 'IPv6', host: LOOPBACK.v6, options: needsIpv6() },
  ];
  for (const { mode, options } of MODES) {
    for (const f of families) {
      it(`${f.name}, ${mode} mode`, allOf(options, f.options), () => withPeers(f.host, async (b, c) => {
        const { hostPort } = await startMapped({ proto: 'udp', mode, hostIp: f.host, containerIp: f.host, containerPort: b.port });
        const reply = await c.request(`hello ${f.name}`, hostPort);
        assert.equal(reply.payload.toString(), `hello ${f.name}`);
        assert.equal(reply.fromPort, hostPort);
      }));
    }
  }
});

describe(`${CLIENTS} clients at once: own replies only, one stable backend port each`, () => {
  for (const { mode, options } of MODES) {
    it(`${mode} mode`, { ...options, timeout: 30_000 }, async () => {
      const backend = await startUdpBackend(V4);
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => udpClient(V4)));
      try {
        const { hostPort } = await startMapped({ proto: 'udp', mode, hostIp: V4, containerIp: V4, containerPort: backend.port });
        await Promise.all(clients.map(async (client, i) => {
          for (let seq = 0; seq < PER_CLIENT; seq += 1) {
            const payload = `client ${i} datagram ${seq}`;
            assert.equal((await client.request(payload, hostPort)).payload.toString(), payload);
          }
        }));
        // Which backend source port carried each client's datagrams.
        const portsByClient = new Map<string, Set<number>>();
        for (const seen of backend.seen) {
          const client = /^client (\d+) /.exec(seen.payload.toString())?.[1] ?? 'unknown';
          portsByClient.set(client, (portsByClient.get(client) ?? new Set()).add(seen.fromPort));
        }
        assert.equal(portsByClient.size, CLIENTS);
        for (const [client, ports] of portsByClient) assert.equal(ports.size, 1, `client ${client} used ports ${[...ports]}`);
        const distinct = new Set([...portsByClient.values()].flatMap((ports) => [...ports]));
        assert.equal(distinct.size, CLIENTS, 'each client has its own backend socket');
      } finally {
        await Promise.all(clients.map((c) => c.close()));
        await backend.close();
      }
    });
  }
});

describe(`a ${MAX_DATAGRAM}-byte datagram passes intact both ways`, () => {
  for (const { mode, options } of MODES) {
    it(`${mode} mode`, options, () => withPeers(V4, async (b, c) => {
      const { hostPort } = await startMapped({ proto: 'udp', mode, hostIp: V4, containerIp: V4, containerPort: b.port });
      const payload = randomBytes(MAX_DATAGRAM);
      const reply = await c.request(payload, hostPort);
      assert.equal(b.seen[0]?.payload.length, MAX_DATAGRAM);
      assert.ok(reply.payload.equals(payload), 'echoed datagram equals the one sent');
    }));
  }
});

describe('a container port with nothing listening, then a late backend', () => {
  const cases = [
    // 20.10 too: its reply loop swallows the ICMP error, so once the container listens the
    // next datagram gets through (a datagram that meets the error in write is dropped).
    { name: 'the proxy survives and the next datagram gets through', burst: 1, settle: true, options: {} },
    // v29.5+ resends a datagram that meets a stale ECONNREFUSED, so a burst sent while errors
    // may still be pending on the backend socket loses nothing.
    { name: 'no datagram is lost to a stale ECONNREFUSED', burst: 10, settle: false, options: needs('udp-write-retry') },
  ];
  for (const { mode, options } of MODES) {
    for (const c of cases) {
      it(`${mode} mode: ${c.name}`, allOf(options, c.options), async () => {
        const containerPort = await reservePort('udp', V4);
        const { proxy, hostPort } = await startMapped({ proto: 'udp', mode, hostIp: V4, containerIp: V4, containerPort });
        const client = await udpClient(V4);
        let backend: UdpBackend | undefined;
        try {
          const icmpBefore = icmpInDestUnreachs();
          for (let i = 0; i < 3; i += 1) await client.send(`refused ${i}`, hostPort);
          // No event says the proxy met ECONNREFUSED; the kernel's ICMP counter does. Wait until it
          // rose (and, to settle, held still for a few polls: every refused datagram was handled).
          let last = icmpBefore;
          let still = 0;
          await pollUntil(() => {
            const now = icmpInDestUnreachs();
            still = now === last ? still + 1 : 0;
            last = now;
            return now > icmpBefore && (still >= 3 || !c.settle);
          }, STEP_MS, 'ICMP port unreachable from the container port');
          backend = await startUdpBackend(V4, { port: containerPort });
          const missing = new Set(Array.from({ length: c.burst }, (_, i) => `late ${i}`));
          for (const p of missing) await client.send(p, hostPort);
          while (missing.size > 0) {
            // A refused datagram still on its way may be echoed too; only the late ones count.
            const reply = (await client.next()).payload.toString();
            missing.delete(reply);
          }
          assert.ok(isRunning(proxy.pid), 'the proxy survived');
          assert.deepEqual(await proxy.stop(), { code: 0, signal: null });
        } finally {
          await client.close();
          await backend?.close();
        }
      });
    }
  }
});
