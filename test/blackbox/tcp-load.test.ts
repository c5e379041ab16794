// TCP under load and failure (docs/design/engine-contract.md §3, §5): a large two-way transfer, a backend
// that refuses, many connections at once, and no fds left behind afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { connectTcp, readToEnd, sha256, tcpRoundTrip } from '../helpers/client.ts';
import { echo, startTcpBackend, type TcpBehaviour } from '../helpers/backends.ts';
import { MODES, startMapped } from '../helpers/mapping.ts';
import { LOOPBACK } from '../helpers/net.ts';
import { fdKinds } from '../helpers/proc.ts';
import { killAll } from '../helpers/spawn-proxy.ts';
import { allOf, needs } from '../helpers/target.ts';
import { STEP_MS, pollUntil, withTimeout } from '../helpers/timeout.ts';
import { reservePort } from '../helpers/ports.ts';

const V4 = LOOPBACK.v4;
const BIG = 16 * 1024 * 1024;
const CONCURRENT = 200;

afterEach(killAll);

describe('16 MiB each way at the same time arrives intact', () => {
  for (const { mode, options } of MODES) {
    it(`${mode} mode`, { ...options, timeout: 60_000 }, async () => {
      const up = randomBytes(BIG);
      const down = randomBytes(BIG);
      let resolveUp: (digest: string) => void = () => undefined;
      const upAtBackend = new Promise<string>((resolve) => { resolveUp = resolve; });
      // The container sends its 16 MiB while it is receiving the client's.
      const both: TcpBehaviour = (sock) => {
        readToEnd(sock).then((data) => resolveUp(sha256(data)), () => resolveUp('reset'));
        sock.end(down);
      };
      const backend = await startTcpBackend(V4, both);
      try {
        const { hostPort } = await startMapped({ proto: 'tcp', mode, hostIp: V4, containerIp: V4, containerPort: backend.port });
        const client = await connectTcp(V4, hostPort);
        try {
          const received = readToEnd(client);
          client.end(up);
          const got = await withTimeout(received, 30_000, '16 MiB from the container');
          assert.equal(got.length, BIG);
          assert.equal(sha256(got), sha256(down), 'container → client data');
          assert.equal(await withTimeout(upAtBackend, 30_000, '16 MiB at the container'), sha256(up), 'client → container data');
        } finally {
          client.destroy();
        }
      } finally {
        await backend.close();
      }
    });
  }
});

describe('a refused backend: the client is accepted, then closed; later connections work', () => {
  for (const { mode, options } of MODES) {
    it(`${mode} mode`, options, async () => {
      const containerPort = await reservePort('tcp', V4); // nothing listens there yet
      const { proxy, hostPort } = await startMapped({ proto: 'tcp', mode, hostIp: V4, containerIp: V4, containerPort });
      const client = await connectTcp(V4, hostPort); // succeeds: the proxy accepted it
      try {
        // The proxy cannot reach the container, so it closes the client (FIN, or RST).
        const outcome = await withTimeout(readToEnd(client).then(
          (data) => `eof after ${data.length} bytes`, (err: unknown) => `error ${String(err)}`), STEP_MS, 'close after refusal');
        assert.match(outcome, /^(eof after 0 bytes|error .*ECONNRESET)/);
      } finally {
        client.destroy();
      }
      const backend = await startTcpBackend(V4, echo, { port: containerPort });
      try {
        assert.equal((await tcpRoundTrip(V4, hostPort, 'now it listens')).toString(), 'now it listens');
        assert.equal(proxy.child.exitCode, null, 'the proxy survived the refusal');
      } finally {
        await backend.close();
      }
    });
  }
});

// Idle splice pipes may outlive their connections: 20.10 keeps them in Go's sync.Pool until GCs,
// ours in a bounded pool. So sockets and every other kind of fd must return to the baseline
// exactly, and pipes must not grow when the same load comes again (ours only).
describe(`${CONCURRENT} concurrent connections each echo, and nothing leaks`, () => {
  for (const { mode, options } of MODES) {
    for (const batches of [1, 2]) {
      const name = batches === 1 ? 'sockets and non-pipe fds back to the baseline' : 'a second batch adds no pipe fds';
      const extra = batches === 1 ? {} : needs('bounded-pipe-pool');
      it(`${mode} mode: ${name}`, { ...allOf(options, extra), timeout: 60_000 }, async () => {
        const backend = await startTcpBackend(V4, echo);
        try {
          const { proxy, hostPort } = await startMapped({ proto: 'tcp', mode, hostIp: V4, containerIp: V4, containerPort: backend.port });
          const idle = fdKinds(proxy.pid).sockets;
          const settled = (): boolean => fdKinds(proxy.pid).sockets <= idle;
          // One connection first: fds opened lazily on first use (a thread pool, timers) are baseline.
          assert.equal((await tcpRoundTrip(V4, hostPort, 'warm up')).toString(), 'warm up');
          await pollUntil(settled, STEP_MS, 'the warm-up connection to close');
          const baseline = fdKinds(proxy.pid);
          const totals: number[] = [];
          for (let b = 0; b < batches; b += 1) {
            const payloads = Array.from({ length: CONCURRENT }, (_, i) => `batch ${b} ${i} ${randomBytes(8).toString('hex')}`);
            const replies = await Promise.all(payloads.map((p) => tcpRoundTrip(V4, hostPort, p, 20_000)));
            assert.deepEqual(replies.map((r) => r.toString()), payloads);
            await pollUntil(() => settled() && fdKinds(proxy.pid).other <= baseline.other, 10_000,
              `sockets and other fds back to ${JSON.stringify(baseline)} (now ${JSON.stringify(fdKinds(proxy.pid))})`);
            totals.push(fdKinds(proxy.pid).pipes);
          }
          assert.equal(backend.accepted(), 1 + batches * CONCURRENT);
          const [first, second] = totals;
          if (second !== undefined) assert.ok(second <= (first ?? 0), `pipe fds grew from ${first} to ${second}`);
        } finally {
          await backend.close();
        }
      });
    }
  }
});
