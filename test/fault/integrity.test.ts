// Fault 5, integrity under parallel load: several connections move large, distinct streams in
// both directions at once; every byte of every stream must arrive once and in order (sha256 of a
// keystream named per connection and direction), and each side's FIN must pass through.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, describe, it } from 'node:test';
import { withTimeout } from '../helpers/timeout.ts';
import { startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { killFaultProxies, startFaultProxy } from './helpers/proxy.ts';
import { DATA_PATHS, MiB, V4, size, CONTAINER } from './helpers/settings.ts';
import { fmt } from '../helpers/stats.ts';
import { drain, flood, keystreamDigest, type Drain } from '../helpers/keystream.ts';
import { connectTcp } from '../helpers/client.ts';

const CONNECTIONS = size(4, 8);
const BYTES = size(8, 32) * MiB;
/** Each connection starts with its index, padded to this many bytes. */
const HEADER_BYTES = 8;

const backends: TcpBackend[] = [];
after(async () => {
  await killFaultProxies();
  await Promise.all(backends.map((b) => b.close()));
});

describe(`integrity: ${CONNECTIONS} connections × ${BYTES / MiB} MiB each way at once`, { timeout: size(120_000, 300_000) }, () => {
  for (const dataPath of DATA_PATHS) {
    it(`${dataPath} data path: every stream arrives intact (sha256)`, async () => {
      // The container reads each connection to its end while sending its own stream, named by
      // the first line the client sends ("<index>\n"), so that the test knows what to expect.
      const atContainer = new Map<number, Promise<{ bytes: number; sha256: string; error: string | undefined }>>();
      const backend = await startTcpBackend(V4, (sock: net.Socket) => {
        const onReadable = (): void => {
          const head: unknown = sock.read(HEADER_BYTES);
          if (!Buffer.isBuffer(head)) return; // not all of it yet: the next 'readable' brings more
          sock.off('readable', onReadable);
          const index = Number(head.toString('latin1').trim());
          if (!Number.isInteger(index)) {
            sock.destroy();
            return;
          }
          atContainer.set(index, drain(sock).done);
          flood(sock, `down ${dataPath} ${index}`, BYTES);
        };
        sock.on('readable', onReadable);
      }, CONTAINER);
      backends.push(backend);
      const proxy = await startFaultProxy({ proto: 'tcp', containerPort: backend.port, dataPath });
      const started = performance.now();
      const clients: net.Socket[] = [];
      try {
        const results = await withTimeout(Promise.all(Array.from({ length: CONNECTIONS }, async (_, index) => {
          const sock = await connectTcp(V4, proxy.hostPort, { noDelay: true });
          clients.push(sock);
          const down: Drain = drain(sock);
          sock.write(`${String(index).padEnd(HEADER_BYTES - 1)}\n`);
          const up = await flood(sock, `up ${dataPath} ${index}`, BYTES).done;
          const received = await down.done;
          return { index, up, received };
        })), size(90_000, 240_000), 'all transfers');
        const seconds = (performance.now() - started) / 1000;
        for (const { index, up, received } of results) {
          assert.equal(up.error, undefined, `client ${index} could not send: ${up.error ?? ''}`);
          assert.equal(received.bytes, BYTES, `client ${index} received ${received.bytes} bytes (${received.error ?? 'no error'})`);
          assert.equal(received.sha256, keystreamDigest(`down ${dataPath} ${index}`, BYTES), `container → client ${index}`);
          const atBackend = atContainer.get(index);
          if (atBackend === undefined) throw new Error(`the container never saw connection ${index}`);
          const got = await withTimeout(atBackend, 10_000, `the container's end of connection ${index}`);
          assert.equal(got.bytes, BYTES, `the container received ${got.bytes} bytes on connection ${index}`);
          assert.equal(got.sha256, up.sha256, `client ${index} → container`);
        }
        const total = 2 * CONNECTIONS * BYTES;
        console.log(`# ${dataPath}: ${fmt(total / MiB)} MiB in ${fmt(seconds)} s (${fmt(total / MiB / seconds)} MiB/s through the proxy)`);
      } finally {
        for (const sock of clients) sock.destroy();
      }
    });
  }
});
