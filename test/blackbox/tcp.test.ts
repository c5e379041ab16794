// TCP forwarding (docs/design/engine-contract.md §3, §5) in both of dockerd's modes: fallback (the proxy
// binds the host port, as 20.10 always does) and fd 4 (-use-listen-fd).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, describe, it } from 'node:test';
import { connectTcp, readToEnd, tcpRoundTrip } from '../helpers/client.ts';
import { echo, replyAfterEof, startTcpBackend, type TcpBackend, type TcpBehaviour } from '../helpers/backends.ts';
import { MODES, startMapped } from '../helpers/mapping.ts';
import { LOOPBACK, needsIpv6 } from '../helpers/net.ts';
import { killAll } from '../helpers/spawn-proxy.ts';
import { allOf, needs } from '../helpers/target.ts';
import { STEP_MS, withTimeout } from '../helpers/timeout.ts';

const V4 = LOOPBACK.v4;

afterEach(killAll);

/** Runs `body` with a backend that applies `behaviour`, closing it afterwards. */
async function withBackend(host: string, behaviour: TcpBehaviour, body: (b: TcpBackend) => Promise<void>): Promise<void> {
  const backend = await startTcpBackend(host, behaviour);
  try { await body(backend); } finally { await backend.close(); }
}

describe('TCP echo round trip', () => {
  const families = [
    { name: 'IPv4', host: V4, options: {} },
    { name: 'IPv6', host: LOOPBACK.v6, options: needsIpv6() },
  ];
  for (const { mode, options } of MODES) {
    for (const f of families) {
      it(`${f.name}, ${mode} mode`, allOf(options, f.options), () => withBackend(f.host, echo, async (b) => {
        const { hostPort } = await startMapped({ proto: 'tcp', mode, hostIp: f.host, containerIp: f.host, containerPort: b.port });
        assert.equal((await tcpRoundTrip(f.host, hostPort, `hello ${f.name}`)).toString(), `hello ${f.name}`);
      }));
    }
  }

  // dockerd can hand over a dual-stack listener on [::] (moby TestTCPDualStackProxy); an IPv4
  // client then reaches an IPv6 backend. A self-opened tcp6 listener is V6ONLY, so fd mode only.
  it('dual stack: listener on [::] from fd 4, IPv4 client, IPv6 backend', allOf(needs('listen-fd'), needsIpv6()),
    () => withBackend(LOOPBACK.v6, echo, async (b) => {
      const { hostPort } = await startMapped({ proto: 'tcp', mode: 'fd', hostIp: '::', ipv6Only: false,
        containerIp: LOOPBACK.v6, containerPort: b.port });
      assert.equal((await tcpRoundTrip(V4, hostPort, 'dual stack')).toString(), 'dual stack');
    }));
});

describe('half-close client → container passes through', () => {
  for (const { mode, options } of MODES) {
    it(`${mode} mode: the backend reads to EOF, then its whole reply reaches the client`, options,
      () => withBackend(V4, replyAfterEof, async (b) => {
        const { hostPort } = await startMapped({ proto: 'tcp', mode, hostIp: V4, containerIp: V4, containerPort: b.port });
        const client = await connectTcp(V4, hostPort);
        try {
          const reply = readToEnd(client);
          client.write('part one, ');
          client.write('part two, ');
          client.end('part three'); // the backend replies only after this FIN has reached it
          assert.equal((await withTimeout(reply, STEP_MS, 'reply after half-close')).toString(),
            'part one, part two, part three');
        } finally {
          client.destroy();
        }
      }));
  }
});

describe('FIN container → client passes through', () => {
  for (const { mode, options } of MODES) {
    it(`${mode} mode: the client gets data + EOF and can still send`, options, async () => {
      let resolveLate: (data: string) => void = () => undefined;
      const lateData = new Promise<string>((resolve) => { resolveLate = resolve; });
      // The container says hello and shuts its write side, then keeps reading until the client's FIN.
      const finFirst: TcpBehaviour = (sock) => {
        readToEnd(sock).then((data) => { resolveLate(data.toString()); sock.end(); }, () => undefined);
        sock.end('hello from the container');
      };
      await withBackend(V4, finFirst, async (b) => {
        const { hostPort } = await startMapped({ proto: 'tcp', mode, hostIp: V4, containerIp: V4, containerPort: b.port });
        const client = await connectTcp(V4, hostPort);
        try {
          const closed = once(client, 'close');
          const greeting = await withTimeout(readToEnd(client), STEP_MS, 'data + EOF from the container');
          assert.equal(greeting.toString(), 'hello from the container');
          client.end('late data from the client'); // its write side is still open
          assert.equal(await withTimeout(lateData, STEP_MS, 'late data at the container'), 'late data from the client');
          await withTimeout(closed, STEP_MS, 'the connection to close on both sides');
        } finally {
          client.destroy();
        }
      });
    });
  }
});
