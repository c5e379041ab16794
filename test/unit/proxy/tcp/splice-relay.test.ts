// The splice(2) relay against the shared Relay contract, plus what only the addon does: argument
// checks at the native boundary, the per-connection fallback, and worker teardown.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { StartRelay } from '../../../../src/proxy/tcp/relay.ts';
import {
  configureSplice, spliceAvailable, spliceFallbacks, spliceInfo, startSpliceRelay,
} from '../../../../src/proxy/tcp/splice-relay.ts';
import { pollUntil, withTimeout } from '../../../helpers/timeout.ts';
import { LIGHT, Rig, describeRelayContract, fdUsage, received } from './relay-contract.ts';

const STEP_MS = 10_000;
const ADDON_PATH = fileURLToPath(new URL('../../../../build/Release/splice.node', import.meta.url));
const pooledFds = (): number => 2 * (spliceInfo()?.pooled ?? 0);
const MiB = 1 << 20;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Opens /dev/null until EMFILE, then closes `free` of them again; returns the rest to close later. */
function fillFdTable(free: number): number[] {
  const fillers: number[] = [];
  try {
    for (;;) fillers.push(openSync('/dev/null', 'r'));
  } catch {
    // EMFILE: every descriptor is taken
  }
  for (const fd of fillers.splice(0, free)) closeSync(fd);
  return fillers;
}

/** Sends `data` through the echo rig on an open connection and resolves with the SHA-256 of the echo. */
async function echoOnce(socket: Socket, data: Buffer): Promise<string> {
  const hash = createHash('sha256');
  let got = 0;
  const onData = (chunk: Buffer): void => {
    // The echo of this round only: the caller waits for it before it sends the next round.
    hash.update(chunk.subarray(0, Math.max(0, Math.min(chunk.length, data.length - got))));
    got += chunk.length;
  };
  socket.on('data', onData);
  const echoed = received(socket, data.length);
  for (let at = 0; at < data.length; at += 256 * 1024) {
    if (!socket.write(data.subarray(at, at + 256 * 1024))) await once(socket, 'drain');
  }
  await withTimeout(echoed, STEP_MS * 3, 'echo');
  socket.off('data', onData);
  assert.equal(got, data.length, 'no more than what was sent comes back');
  return hash.digest('hex');
}

describe('splice addon', () => {
  it('is available on Linux once built', () => {
    assert.deepEqual(spliceAvailable(), { ok: true });
  });

  it('moves bytes without the JS sockets ever reading', async () => {
    const rig = await Rig.open(startSpliceRelay, (s) => s.pipe(s));
    try {
      const fallbacks = spliceFallbacks().count;
      const { socket, leg } = await rig.connect();
      socket.end('zero-copy');
      await withTimeout(leg.relay.done, STEP_MS, 'done');
      assert.deepEqual(leg.relay.stats(), { hostToContainer: 9, containerToHost: 9 });
      assert.equal(leg.client.bytesRead, 0);
      assert.equal(leg.backend.bytesRead, 0);
      assert.equal(spliceFallbacks().count, fallbacks);
      assert.equal(spliceInfo()?.live, 0);
    } finally {
      await rig.close();
    }
  });

  it('returns errors for bad arguments instead of throwing', () => {
    const addon: unknown = createRequire(import.meta.url)(ADDON_PATH);
    assert.ok(typeof addon === 'object' && addon !== null);
    const call = (name: string, ...args: unknown[]): unknown => {
      const method: unknown = Reflect.get(addon, name);
      assert.equal(typeof method, 'function');
      return typeof method === 'function' ? Reflect.apply(method, addon, args) : undefined;
    };
    const onDone = (): void => assert.fail('onDone must not run for a relay that never started');
    const badStarts: unknown[][] = [
      [], [1], [1, 2], [-1, 2, onDone], [1.5, 2, onDone], ['1', 2, onDone], [1, 2, 'cb'],
      [Number.NaN, 2, onDone], [2 ** 31, 2, onDone], [0, 0, onDone],
      [0, 1, onDone], // under node --test these are a Unix socketpair: stream sockets, but not TCP
    ];
    for (const args of badStarts) {
      const result = call('start', ...args);
      assert.ok(typeof result === 'object' && result !== null, `start(${args.map(String).join(', ')})`);
      assert.equal(typeof Reflect.get(result, 'errno'), 'number');
      assert.equal(typeof Reflect.get(result, 'message'), 'string');
    }
    const badConfigure = call('configure', 'big', {});
    assert.ok(typeof badConfigure === 'object' && badConfigure !== null);
    assert.equal(Reflect.get(badConfigure, 'errno'), 22);
  });

  it('clamps the pipe size to /proc/sys/fs/pipe-max-size', () => {
    const info = configureSplice({ pipeSizeBytes: 2 ** 30, poolSize: 16 });
    assert.ok(info !== undefined);
    assert.equal(info.pipeSizeBytes, info.pipeMaxSizeBytes);
    const restored = configureSplice({ pipeSizeBytes: 1 << 20, poolSize: 16 });
    assert.equal(restored?.poolSize, 16);
  });

  // Start takes no pipe (a direction takes one only for a bulk flow, see the pipe2 case below): only
  // the dup of the sockets can fail for want of descriptors.
  it('falls back to the stream relay for a connection that hits EMFILE in fcntl', async () => {
    const starved: StartRelay = (client, backend) => {
      const fillers = fillFdTable(0);
      try {
        return startSpliceRelay(client, backend);
      } finally {
        for (const fd of fillers) closeSync(fd);
      }
    };
    const rig = await Rig.open(starved, (s) => s.pipe(s));
    try {
      const before = fdUsage();
      const fallbacks = spliceFallbacks().count;
      const { socket, leg } = await rig.connect();
      assert.deepEqual(spliceFallbacks(), { count: fallbacks + 1, lastReason: 'fcntl: EMFILE' });
      const reply = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
      });
      socket.end('still served');
      assert.equal(await withTimeout(reply, STEP_MS, 'echo through the fallback'), 'still served');
      assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'), { hostToContainer: 12, containerToHost: 12 });
      assert.ok(leg.client.bytesRead > 0, 'the stream relay carried it');
      if (!socket.closed) await withTimeout(once(socket, 'close'), STEP_MS, 'client close');
      assert.ok(fdUsage().pipes <= before.pipes, 'no pipe left behind by the failed start');
    } finally {
      await rig.close();
    }
  });

  it('holds no pipe fd while a connection that moved bulk data both ways is idle', async () => {
    configureSplice({ pipeSizeBytes: 1 << 20, poolSize: 0 }); // given-back pipes are closed, not pooled
    const rig = await Rig.open(startSpliceRelay, (s) => s.pipe(s));
    try {
      const before = fdUsage();
      const counters = spliceInfo();
      const { socket, leg } = await rig.connect();
      for (const size of [100, 4 * MiB + 1, 2000]) {
        const data = randomBytes(size);
        assert.equal(await echoOnce(socket, data), sha256(data));
        await pollUntil(() => spliceInfo()?.pipesInUse === 0, STEP_MS, 'no pipe in use once idle');
        const now = fdUsage();
        assert.equal(now.pipes, before.pipes, `pipe fds in /proc/self/fd while idle after ${size} bytes`);
        // At most the test's client, the proxy's two sockets and their dups, the backend's socket
        // (sockets of earlier tests may still be closing, so not an equality).
        assert.ok(now.fds <= before.fds + 6, `${now.fds - before.fds} more descriptors while idle`);
      }
      const after = spliceInfo();
      assert.ok(counters !== undefined && after !== undefined);
      assert.ok(after.splicedBytes > counters.splicedBytes, 'the bulk round was spliced');
      assert.ok(after.copiedBytes > counters.copiedBytes, 'the small rounds were copied');
      socket.end();
      await withTimeout(leg.relay.done, STEP_MS, 'done');
    } finally {
      await rig.close();
      configureSplice({ pipeSizeBytes: 1 << 20, poolSize: 16 });
    }
  });

  it('loses no byte when pipe2 fails mid-connection (fd table full while idle), and splices again after', async () => {
    configureSplice({ pipeSizeBytes: 1 << 20, poolSize: 0 }); // no pooled pipe to fall back on
    const rig = await Rig.open(startSpliceRelay, (s) => s.pipe(s));
    try {
      const fallbacks = spliceFallbacks().count;
      const { socket, leg } = await rig.connect();
      const small = Buffer.from('before the fd table fills');
      assert.equal(await echoOnce(socket, small), sha256(small));
      const bulk = randomBytes(LIGHT ? 2 * MiB + 5 : 8 * MiB + 5);
      const bulkHash = sha256(bulk);
      const failuresBefore = spliceInfo()?.pipeFailures ?? 0;
      const fillers = fillFdTable(1); // one free fd: pipe2 needs two
      let starvedHash: string;
      try {
        starvedHash = await echoOnce(socket, bulk);
      } finally {
        for (const fd of fillers) closeSync(fd);
      }
      assert.equal(starvedHash, bulkHash, 'every byte arrived, in order, through the copy path');
      const failures = (spliceInfo()?.pipeFailures ?? 0) - failuresBefore;
      assert.ok(failures >= 2, `both directions were refused a pipe (${failures} pipe2 failures)`);
      const splicedBefore = spliceInfo()?.splicedBytes ?? 0;
      assert.equal(await echoOnce(socket, bulk), bulkHash);
      assert.ok((spliceInfo()?.splicedBytes ?? 0) > splicedBefore, 'bulk is spliced again once fds are free');
      const reply = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
      });
      socket.end('bye');
      assert.equal(await withTimeout(reply, STEP_MS, 'last echo'), 'bye');
      const total = small.length + 2 * bulk.length + 3;
      assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'), { hostToContainer: total, containerToHost: total });
      assert.equal(spliceFallbacks().count, fallbacks, 'the connection stayed on the splice path');
    } finally {
      await rig.close();
      configureSplice({ pipeSizeBytes: 1 << 20, poolSize: 16 });
    }
  });

  it('releases everything when a worker running relays is terminated', async () => {
    const before = fdUsage();
    // Plain JS in the worker: it loads the addon itself and keeps a relay busy, then is killed.
    const worker = new Worker(`
      const net = require('node:net');
      const { parentPort } = require('node:worker_threads');
      const addon = require(${JSON.stringify(ADDON_PATH)});
      const target = net.createServer({ allowHalfOpen: true }, (s) => {
        const block = Buffer.alloc(65536, 1);
        const pump = () => { while (s.write(block)); };
        s.on('drain', pump); s.on('error', () => {}); pump();
      }).listen(0, '127.0.0.1', () => {
        const proxy = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
          const backend = net.connect({ port: target.address().port, host: '127.0.0.1', allowHalfOpen: true });
          backend.pause();
          backend.once('connect', () => {
            const relay = addon.start(client._handle.fd, backend._handle.fd, () => {});
            parentPort.postMessage(typeof relay.stats === 'function' ? 'spliced' : 'failed');
          });
        }).listen(0, '127.0.0.1', () => {
          const c = net.connect({ port: proxy.address().port, host: '127.0.0.1' });
          c.on('error', () => {});
          let seen = 0;
          c.on('data', (d) => { seen += d.length; if (seen > 1 << 20 && seen - d.length <= 1 << 20) parentPort.postMessage('flowing'); });
        });
      });
    `, { eval: true });
    const messages: unknown[] = [];
    worker.on('message', (m: unknown) => messages.push(m));
    const flowing = new Promise<void>((resolve) => worker.on('message', (m: unknown) => m === 'flowing' && resolve()));
    await withTimeout(flowing, STEP_MS, 'relay in the worker flowing');
    assert.deepEqual(messages.slice(0, 1), ['spliced']);
    const exited = once(worker, 'exit');
    await worker.terminate();
    await withTimeout(exited, STEP_MS, 'worker exit');
    const after = fdUsage();
    assert.equal(after.pipes, before.pipes, 'pipes closed with the worker');
    assert.equal(after.fds, before.fds, 'descriptors closed with the worker');
  });
});

// The contract must exercise the addon itself, not the stream fallback.
let contractFallbacks = 0;
const spliceOnly: StartRelay = (client, backend) => {
  const before = spliceFallbacks().count;
  const relay = startSpliceRelay(client, backend);
  contractFallbacks += spliceFallbacks().count - before;
  return relay;
};

describeRelayContract({ name: 'splice relay', start: spliceOnly, idleFds: pooledFds });

describe('splice relay: coverage', () => {
  it('spliced every connection of the contract (no fallback)', () => {
    assert.equal(contractFallbacks, 0);
  });
});
