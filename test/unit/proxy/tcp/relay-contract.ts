// The Relay contract as one table of cases, run against every StartRelay (stream and splice):
// each case builds client -> in-process proxy (the relay under test) -> backend on loopback.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { Relay, StartRelay } from '../../../../src/proxy/tcp/relay.ts';
import { pollUntil, withTimeout } from '../../../helpers/timeout.ts';

const HOST = '127.0.0.1';
const MiB = 1 << 20;
const STEP_MS = 10_000;
/** LIGHT=1 shrinks the volumes, for runs under valgrind. */
export const LIGHT = process.env.RELAY_TEST_LIGHT === '1';
const BULK = LIGHT ? 2 * MiB + 7 : 16 * MiB + 12_345;
// Larger than all the socket buffers and pipes in flight (about 26 MiB on loopback here).
const FLOOD = LIGHT ? 40 * MiB : 64 * MiB;
const CONNECTIONS = LIGHT ? 100 : 3000;
// Interleaved small messages and bulk transfers on one connection.
const SMALL_MESSAGES = LIGHT ? 150 : 600;
const INTERLEAVED_BULK = LIGHT ? MiB + 3 : 6 * MiB + 3;

type Backend = (socket: net.Socket) => void;

/** One proxied connection as the relay sees it. */
export interface Leg {
  readonly relay: Relay;
  readonly client: net.Socket; // accepted by the proxy
  readonly backend: net.Socket; // dialled by the proxy
}

export interface RelayUnderTest {
  readonly name: string;
  readonly start: StartRelay;
  /** Descriptors the implementation keeps on purpose between connections (a pipe pool). */
  idleFds(): number;
}

/** The proxy: accepts paused, dials the backend paused, hands both to `start` (as tcp-proxy.ts does). */
export class Rig {
  readonly legs: Leg[] = [];
  readonly #servers: net.Server[] = [];
  readonly #backendSockets = new Set<net.Socket>();
  #onLeg: ((leg: Leg) => void) | undefined;
  proxyPort = 0;

  private constructor() {}

  static async open(start: StartRelay, backend: Backend): Promise<Rig> {
    const rig = new Rig();
    const target = net.createServer({ allowHalfOpen: true }, (socket) => {
      rig.#backendSockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => rig.#backendSockets.delete(socket));
      backend(socket);
    });
    const proxy = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, (client) => {
      const upstream = net.connect({ host: HOST, port: portOf(target), allowHalfOpen: true, noDelay: true });
      upstream.pause();
      upstream.once('error', () => client.destroy());
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        const leg = { relay: start(client, upstream), client, backend: upstream };
        rig.legs.push(leg);
        rig.#onLeg?.(leg);
      });
    });
    rig.#servers.push(target, proxy);
    for (const server of rig.#servers) {
      server.listen(0, HOST);
      await withTimeout(once(server, 'listening'), STEP_MS, 'listen');
    }
    rig.proxyPort = portOf(proxy);
    return rig;
  }

  /** Connects a client to the proxy and waits until the relay for it has started. */
  async connect(): Promise<{ socket: net.Socket; leg: Leg }> {
    const legReady = new Promise<Leg>((resolve) => {
      this.#onLeg = resolve;
    });
    const socket = net.connect({ host: HOST, port: this.proxyPort, allowHalfOpen: true });
    socket.on('error', () => {});
    const leg = await withTimeout(legReady, STEP_MS, 'relay start');
    return { socket, leg };
  }

  /** A connection the test does not wait on individually (many-connection cases). */
  dial(): net.Socket {
    const socket = net.connect({ host: HOST, port: this.proxyPort, allowHalfOpen: true });
    socket.on('error', () => {});
    return socket;
  }

  async close(): Promise<void> {
    for (const leg of this.legs) leg.relay.destroy();
    await withTimeout(Promise.all(this.legs.map((leg) => leg.relay.done)), STEP_MS, 'relays done at close');
    for (const socket of this.#backendSockets) socket.destroy();
    await Promise.all(this.#servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

function portOf(server: net.Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
  return address.port;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Everything `socket` sends until its FIN. */
function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** Writes `data` in chunks, honouring backpressure, then ends; resolves once all is handed to the kernel. */
async function writeAllAndEnd(socket: net.Socket, data: Buffer, chunk = 256 * 1024): Promise<void> {
  for (let at = 0; at < data.length; at += chunk) {
    if (!socket.write(data.subarray(at, at + chunk))) await once(socket, 'drain');
  }
  await new Promise<void>((resolve) => socket.end(resolve));
}

/** Lets the event loop turn once, so that consecutive small writes reach the relay one by one. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * `count` small messages (1 to 1500 bytes, with one bulk block of `bulk` bytes at a third and at two
 * thirds of the way), different for each `seed`.
 */
export function interleavedPlan(count: number, bulk: number, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < count; i += 1) {
    if (i === Math.floor(count / 3) || i === Math.floor((2 * count) / 3)) chunks.push(randomBytes(bulk + seed));
    chunks.push(randomBytes(1 + ((i * 7919 + seed * 104_729) % 1500)));
  }
  return chunks;
}

/** Writes `chunks` in order, one small one per event-loop turn, honouring backpressure; then ends. */
export async function writeChunksAndEnd(socket: net.Socket, chunks: readonly Buffer[], end = true): Promise<void> {
  for (const chunk of chunks) {
    if (!socket.write(chunk)) await once(socket, 'drain');
    if (chunk.length < 16 * 1024) await nextTurn();
  }
  if (end) await new Promise<void>((resolve) => socket.end(resolve));
}

/** Writes until the socket dies: the mid-transfer side of the reset cases. */
function flood(socket: net.Socket): void {
  const block = randomBytes(64 * 1024);
  const pump = (): void => {
    while (!socket.destroyed && socket.write(block));
  };
  socket.on('drain', pump);
  pump();
}

/** Resolves on 'close' (events.once would reject on the 'error' that a reset brings first). */
function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.closed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** Resolves once the peer is gone: a FIN, a reset, or a close. */
function peerGone(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    for (const event of ['end', 'error', 'close']) socket.once(event, () => resolve());
  });
}

/** Resolves once `socket` has received at least `bytes`. */
export function received(socket: net.Socket, bytes: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen < bytes) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  });
}

/** Open descriptors of this process: all of them, and the pipe ends among them. */
export function fdUsage(): { fds: number; pipes: number } {
  let fds = 0;
  let pipes = 0;
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${entry}`);
      fds += 1;
      if (target.startsWith('pipe:')) pipes += 1;
    } catch {
      // the fd used by readdir itself, closed by now
    }
  }
  return { fds, pipes };
}

function rssBytes(): number {
  return process.memoryUsage.rss();
}

export async function assertFreed(leg: Leg): Promise<void> {
  await withTimeout(leg.relay.done, STEP_MS, 'relay done');
  assert.ok(leg.client.destroyed, 'client socket destroyed');
  assert.ok(leg.backend.destroyed, 'backend socket destroyed');
}

/** Runs many short echo connections, `parallel` at a time. */
async function echoMany(rig: Rig, total: number, parallel: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next += 1;
      const socket = rig.dial();
      const reply = readAll(socket);
      socket.end('ping');
      assert.equal((await withTimeout(reply, STEP_MS, 'echo reply')).toString(), 'ping');
      await withTimeout(closed(socket), STEP_MS, 'client close');
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Registers the whole contract for one relay implementation. */
export function describeRelayContract(subject: RelayUnderTest): void {
  const withRig = async (backend: Backend, body: (rig: Rig) => Promise<void>): Promise<void> => {
    const rig = await Rig.open(subject.start, backend);
    try {
      await body(rig);
    } finally {
      await rig.close();
    }
  };

  describe(`${subject.name}: relay contract`, { timeout: LIGHT ? 600_000 : 120_000 }, () => {
    it('echoes and counts exact bytes', () => withRig((s) => s.pipe(s), async (rig) => {
      const { socket, leg } = await rig.connect();
      const reply = readAll(socket);
      socket.end('ping');
      assert.equal((await withTimeout(reply, STEP_MS, 'echo')).toString(), 'ping');
      assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'), { hostToContainer: 4, containerToHost: 4 });
      assert.deepEqual(leg.relay.stats(), { hostToContainer: 4, containerToHost: 4 });
    }));

    it('passes a client half-close through: backend sees EOF, its reply still arrives', () => {
      const request = randomBytes(100_000);
      return withRig((s) => {
        const body = readAll(s);
        void body.then((data) => s.end(`eof after ${data.length} ${sha256(data)}`));
      }, async (rig) => {
        const { socket, leg } = await rig.connect();
        const reply = readAll(socket);
        await writeAllAndEnd(socket, request);
        assert.equal((await withTimeout(reply, STEP_MS, 'reply')).toString(), `eof after ${request.length} ${sha256(request)}`);
        await assertFreed(leg);
      });
    });

    it('passes a backend half-close through: client sees EOF, then still sends', () => {
      let backendGot: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
      return withRig((s) => {
        backendGot = readAll(s);
        s.end('hello, then FIN');
      }, async (rig) => {
        const { socket, leg } = await rig.connect();
        const greeting = await withTimeout(readAll(socket), STEP_MS, 'greeting + FIN');
        assert.equal(greeting.toString(), 'hello, then FIN');
        socket.end('late request');
        assert.equal((await withTimeout(backendGot, STEP_MS, 'late request')).toString(), 'late request');
        assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'), { hostToContainer: 12, containerToHost: 15 });
      });
    });

    it(`moves ${BULK} bytes both ways at once, intact`, () => {
      const up = randomBytes(BULK);
      const down = randomBytes(BULK + 1);
      let backendGot: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
      return withRig((s) => {
        backendGot = readAll(s);
        void writeAllAndEnd(s, down);
      }, async (rig) => {
        const { socket, leg } = await rig.connect();
        const clientGot = readAll(socket);
        await withTimeout(writeAllAndEnd(socket, up), STEP_MS * 3, 'upload');
        assert.equal(sha256(await withTimeout(clientGot, STEP_MS * 3, 'download')), sha256(down));
        assert.equal(sha256(await withTimeout(backendGot, STEP_MS, 'upload received')), sha256(up));
        assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'), { hostToContainer: up.length, containerToHost: down.length });
      });
    });

    it('frees both sockets when the client resets mid-transfer', () => {
      let backendClosed: Promise<unknown> = Promise.resolve();
      return withRig((s) => {
        backendClosed = closed(s);
        flood(s);
      }, async (rig) => {
        const { socket, leg } = await rig.connect();
        await withTimeout(received(socket, MiB), STEP_MS, 'first MiB');
        socket.resetAndDestroy();
        await assertFreed(leg);
        await withTimeout(backendClosed, STEP_MS, 'backend connection closed');
      });
    });

    it('frees both sockets when the backend resets mid-transfer', () => withRig((s) => {
      void received(s, MiB).then(() => s.resetAndDestroy());
    }, async (rig) => {
      const { socket, leg } = await rig.connect();
      const clientGone = peerGone(socket);
      flood(socket);
      await assertFreed(leg);
      await withTimeout(clientGone, STEP_MS, 'client connection ended');
    }));

    it(`holds a ${FLOOD >> 20} MiB flood to a stalled client in bounded memory, then delivers it all`, () => {
      const block = randomBytes(MiB);
      const expected = createHash('sha256');
      for (let at = 0; at < FLOOD; at += MiB) expected.update(block);
      let flushed = 0;
      return withRig((s) => {
        void (async () => {
          for (let at = 0; at < FLOOD; at += MiB) {
            const ok = s.write(block, () => {
              flushed += MiB;
            });
            if (!ok) await once(s, 'drain');
          }
          s.end();
        })();
      }, async (rig) => {
        const { socket, leg } = await rig.connect();
        socket.pause();
        const rssBefore = rssBytes();
        // A stall emits no event: wait until the backend's flushed count stops moving.
        let last = -1;
        let stableSince = Date.now();
        await pollUntil(() => {
          if (flushed !== last) [last, stableSince] = [flushed, Date.now()];
          return Date.now() - stableSince >= 300;
        }, STEP_MS * 2, 'the flood to stall', 50);
        const grown = rssBytes() - rssBefore;
        assert.ok(flushed < FLOOD, `backpressure: the backend could hand over only ${flushed} of ${FLOOD} bytes`);
        assert.ok(grown < 24 * MiB, `RSS grew ${grown} bytes while ${flushed} bytes waited`);
        const hash = createHash('sha256');
        let total = 0;
        socket.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          total += chunk.length;
        });
        socket.resume();
        await withTimeout(once(socket, 'end'), STEP_MS * 3, 'the rest of the flood');
        assert.equal(total, FLOOD);
        assert.equal(hash.digest('hex'), expected.digest('hex'));
        socket.end();
        assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'), { hostToContainer: 0, containerToHost: FLOOD });
      });
    });

    it(`carries ${SMALL_MESSAGES} small messages each way interleaved with bulk transfers, intact`, () => {
      const up = interleavedPlan(SMALL_MESSAGES, INTERLEAVED_BULK, 1);
      const down = interleavedPlan(SMALL_MESSAGES, INTERLEAVED_BULK, 2);
      const upBytes = Buffer.concat(up);
      const downBytes = Buffer.concat(down);
      let backendGot: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
      return withRig((s) => {
        backendGot = readAll(s);
        void writeChunksAndEnd(s, down);
      }, async (rig) => {
        const { socket, leg } = await rig.connect();
        const clientGot = readAll(socket);
        await withTimeout(writeChunksAndEnd(socket, up), STEP_MS * 3, 'upload');
        assert.equal(sha256(await withTimeout(clientGot, STEP_MS * 3, 'download')), sha256(downBytes));
        assert.equal(sha256(await withTimeout(backendGot, STEP_MS, 'upload received')), sha256(upBytes));
        assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'),
          { hostToContainer: upBytes.length, containerToHost: downBytes.length });
      });
    });

    it('holds no pipe once a connection that moved bulk data goes idle', () => withRig((s) => s.pipe(s), async (rig) => {
      const before = fdUsage();
      const idleBefore = subject.idleFds();
      const { socket, leg } = await rig.connect();
      const data = randomBytes(BULK);
      const echoed = received(socket, data.length);
      await withTimeout(writeChunksAndEnd(socket, [data], false), STEP_MS * 3, 'upload');
      await withTimeout(echoed, STEP_MS * 3, 'echo');
      // Idle now, both sockets open: the pipe ends in use are back to the baseline (pooled ones aside).
      await pollUntil(() => fdUsage().pipes - subject.idleFds() === before.pipes - idleBefore, STEP_MS, 'pipes given back');
      assert.ok(!leg.client.destroyed && !leg.backend.destroyed, 'the connection is still open');
      const reply = readAll(socket);
      socket.end('and once more');
      assert.equal((await withTimeout(reply, STEP_MS, 'echo after idle')).toString(), 'and once more');
      assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'),
        { hostToContainer: data.length + 13, containerToHost: data.length + 13 });
    }));

    it('holds small messages to a stalled client, then delivers them all in order', () => {
      const expected = createHash('sha256');
      let total = 0;
      let backendFull: () => void = () => {};
      let backendFailed: (error: Error) => void = () => {};
      const full = new Promise<void>((resolve, reject) => {
        backendFull = resolve;
        backendFailed = reject;
      });
      let release: () => void = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const send = (s: net.Socket, i: number): boolean => {
        const message = randomBytes(1 + ((i * 7919) % 1400));
        expected.update(message);
        total += message.length;
        return s.write(message);
      };
      return withRig((s) => {
        void (async () => {
          let i = 0;
          // One message per turn until the backend's socket is full: the relay has stopped reading.
          while (send(s, i++)) {
            await nextTurn();
            if (total > FLOOD) throw new Error(`no backpressure after ${total} bytes of small messages`);
          }
          backendFull();
          await released;
          for (let more = 0; more < 100; more += 1) {
            if (!send(s, i++)) await once(s, 'drain');
            await nextTurn();
          }
          s.end();
        })().catch(backendFailed);
      }, async (rig) => {
        const { socket, leg } = await rig.connect();
        socket.pause();
        await withTimeout(full, STEP_MS * 3, 'the small messages to stall');
        const hash = createHash('sha256');
        let got = 0;
        socket.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          got += chunk.length;
        });
        socket.resume();
        release();
        await withTimeout(once(socket, 'end'), STEP_MS * 3, 'all the messages');
        assert.equal(got, total);
        assert.equal(hash.digest('hex'), expected.digest('hex'));
        socket.end();
        assert.deepEqual(await withTimeout(leg.relay.done, STEP_MS, 'done'), { hostToContainer: 0, containerToHost: total });
      });
    });

    it('reports exact stats while running and after the end', () => {
      let backendGot: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
      let reply: (data: Buffer) => void = () => {};
      return withRig((s) => {
        backendGot = readAll(s);
        reply = (data) => s.end(data);
      }, async (rig) => {
        const { socket, leg } = await rig.connect();
        const clientGot = readAll(socket);
        socket.end(randomBytes(12_345));
        assert.equal((await withTimeout(backendGot, STEP_MS, 'request')).length, 12_345);
        assert.deepEqual(leg.relay.stats(), { hostToContainer: 12_345, containerToHost: 0 });
        reply(randomBytes(54_321));
        assert.equal((await withTimeout(clientGot, STEP_MS, 'reply')).length, 54_321);
        const totals = await withTimeout(leg.relay.done, STEP_MS, 'done');
        assert.deepEqual(totals, { hostToContainer: 12_345, containerToHost: 54_321 });
        assert.deepEqual(leg.relay.stats(), totals);
      });
    });

    it('destroy() tears a busy relay down and settles done', () => withRig(flood, async (rig) => {
      const { socket, leg } = await rig.connect();
      const clientGone = peerGone(socket);
      await withTimeout(received(socket, MiB), STEP_MS, 'first MiB');
      leg.relay.destroy();
      leg.relay.destroy();
      await assertFreed(leg);
      assert.ok(leg.relay.stats().containerToHost >= MiB);
      await withTimeout(clientGone, STEP_MS, 'client connection ended');
    }));

    it(`leaks no descriptors over ${CONNECTIONS} sequential and ${CONNECTIONS} concurrent connections`, () =>
      withRig((s) => s.pipe(s), async (rig) => {
        await echoMany(rig, 200, 100); // warm up: pools and lazily opened handles settle
        await withTimeout(Promise.all(rig.legs.map((leg) => leg.relay.done)), STEP_MS, 'warm-up done');
        const before = fdUsage();
        const idleBefore = subject.idleFds();
        await echoMany(rig, CONNECTIONS, 1);
        await echoMany(rig, CONNECTIONS, 200);
        await withTimeout(Promise.all(rig.legs.map((leg) => leg.relay.done)), STEP_MS * 3, 'all relays done');
        assert.equal(rig.legs.length, 200 + 2 * CONNECTIONS);
        for (const leg of rig.legs) assert.ok(leg.client.destroyed && leg.backend.destroyed);
        // The backend's side of the last connections closes on its own schedule.
        await pollUntil(() => fdUsage().fds - subject.idleFds() <= before.fds - idleBefore, STEP_MS, 'fds back to the baseline');
        const after = fdUsage();
        assert.equal(after.fds - subject.idleFds(), before.fds - idleBefore, 'descriptors');
        assert.equal(after.pipes - subject.idleFds(), before.pipes - idleBefore, 'pipe ends');
      }));
  });
}
