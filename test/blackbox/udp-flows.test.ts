// UDP flow lifetime (docs/design/engine-contract.md §4.1, §5), with our settings to make it testable
// (ours only): the idle timeout (90 s in docker-proxy) and a cap on the number of flows.
// A flow is visible from the container as the proxy's source port: a new flow, a new port.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type UdpBackend, startUdpBackend } from '../helpers/backends.ts';
import { startMapped } from '../helpers/mapping.ts';
import { LOOPBACK } from '../helpers/net.ts';
import { killAll } from '../helpers/spawn-proxy.ts';
import { needs } from '../helpers/target.ts';
import { STEP_MS, withTimeout } from '../helpers/timeout.ts';
import { udpClient } from '../helpers/udp-client.ts';

const V4 = LOOPBACK.v4;
const TIMEOUT_MS = 1_000;
/** Go's flows live between 1× and 2× the timeout after the last activity; wait past the end. */
const SILENCE_MS = 2 * TIMEOUT_MS + 500;

afterEach(killAll);

/** The source port the backend saw on the datagram whose payload is `payload`. */
function portOf(backend: UdpBackend, payload: string): number {
  const seen = backend.seen.find((s) => s.payload.toString() === payload);
  if (seen === undefined) throw new Error(`the backend never got ${JSON.stringify(payload)}`);
  return seen.fromPort;
}

describe('DOCKER_PROXY_UDP_IDLE_TIMEOUT', () => {
  it('a flow kept alive only by the client keeps its backend port, then expires after silence',
    { ...needs('extensions', 'udp-one-sided'), timeout: 20_000 }, async () => {
      const backend = await startUdpBackend(V4, { reply: false }); // one-sided: syslog, metrics
      const client = await udpClient(V4);
      try {
        const { hostPort } = await startMapped({ proto: 'udp', mode: 'fallback', hostIp: V4, containerIp: V4,
          containerPort: backend.port, env: { DOCKER_PROXY_UDP_IDLE_TIMEOUT: '1s' } });
        // 3 s of datagrams every 200 ms, with no reply ever: longer than the timeout, never idle.
        for (let i = 0; i < 15; i += 1) {
          await client.send(`tick ${i}`, hostPort);
          await withTimeout(backend.waitFor(i + 1), STEP_MS, `tick ${i} at the backend`);
          await delay(200); // the pace of the traffic is the behaviour under test
        }
        const ports = new Set(backend.seen.map((s) => s.fromPort));
        assert.equal(ports.size, 1, `one backend port while the client keeps talking, got ${[...ports]}`);
        await delay(SILENCE_MS); // silence is the behaviour under test: no event to wait for
        await client.send('after silence', hostPort);
        await withTimeout(backend.waitFor(16), STEP_MS, 'the datagram after silence');
        assert.notEqual(portOf(backend, 'after silence'), portOf(backend, 'tick 0'), 'a new flow after expiry');
      } finally {
        await client.close();
        await backend.close();
      }
    });

  // Go duration syntax, and a plain number means seconds.
  for (const value of ['1000ms', '1']) {
    it(`=${value}: the next datagram after silence uses a new backend port`,
      { ...needs('extensions'), timeout: 20_000 }, async () => {
        const backend = await startUdpBackend(V4);
        const client = await udpClient(V4);
        try {
          const { hostPort } = await startMapped({ proto: 'udp', mode: 'fallback', hostIp: V4, containerIp: V4,
            containerPort: backend.port, env: { DOCKER_PROXY_UDP_IDLE_TIMEOUT: value } });
          await client.request('before', hostPort);
          await delay(SILENCE_MS);
          await client.request('after', hostPort);
          assert.notEqual(portOf(backend, 'after'), portOf(backend, 'before'));
        } finally {
          await client.close();
          await backend.close();
        }
      });
  }
});

describe('DOCKER_PROXY_UDP_MAX_FLOWS', () => {
  it('evicts the least recently used flow beyond the limit', needs('extensions'), async () => {
    const backend = await startUdpBackend(V4);
    const clients = await Promise.all(Array.from({ length: 6 }, () => udpClient(V4)));
    try {
      const { hostPort } = await startMapped({ proto: 'udp', mode: 'fallback', hostIp: V4, containerIp: V4,
        containerPort: backend.port, env: { DOCKER_PROXY_UDP_MAX_FLOWS: '4' } });
      // One at a time, waiting for each echo, so the order of use is certain: 0 is the oldest.
      for (const [i, client] of clients.entries()) await client.request(`client ${i} first`, hostPort);
      const [oldest, newest] = [clients[0], clients[5]];
      assert.ok(oldest !== undefined && newest !== undefined);
      // The newest first: it must still have its flow (and asking evicts nobody).
      await newest.request('client 5 again', hostPort);
      assert.equal(portOf(backend, 'client 5 again'), portOf(backend, 'client 5 first'), 'the newest flow is kept');
      await oldest.request('client 0 again', hostPort);
      assert.notEqual(portOf(backend, 'client 0 again'), portOf(backend, 'client 0 first'), 'the oldest flow was evicted');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await backend.close();
    }
  });
});
