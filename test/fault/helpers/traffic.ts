// Traffic for the fault suite: deterministic byte streams (AES-CTR keystreams: cheap, never
// repeating, so a lost, duplicated or reordered chunk changes the checksum), a writer that
// honours backpressure and can be paused, a hashing reader, and short TCP round trips.
import { createCipheriv, createHash, type Hash } from 'node:crypto';
import net from 'node:net';
import { withTimeout } from '../../helpers/timeout.ts';

/** An endless deterministic byte stream named by `seed`. */
export class Keystream {
  readonly #cipher;

  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.#cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  next(length: number): Buffer {
    return this.#cipher.update(Buffer.alloc(length));
  }
}

/** sha256 of the first `length` bytes of Keystream(seed). */
export function keystreamDigest(seed: string, length: number, chunk = 1024 * 1024): string {
  const stream = new Keystream(seed);
  const hash = createHash('sha256');
  for (let done = 0; done < length; done += chunk) hash.update(stream.next(Math.min(chunk, length - done)));
  return hash.digest('hex');
}

/** A running writer: how far it got, and a way to wait for it. */
export interface Flood {
  /** Bytes handed to the socket and accepted (write() returned or drained). */
  written(): number;
  /** Resolves when all was written and end() was called (or the socket failed). */
  readonly done: Promise<{ written: number; sha256: string; error: string | undefined }>;
}

/**
 * Writes `total` bytes of Keystream(seed) to `sock` as fast as the socket drains, then ends it
 * (unless `end` is false). Never queues more than one chunk beyond what the socket accepted.
 */
export function flood(sock: net.Socket, seed: string, total: number, opts: { chunk?: number; end?: boolean } = {}): Flood {
  const chunk = opts.chunk ?? 256 * 1024;
  const stream = new Keystream(seed);
  const hash = createHash('sha256');
  let written = 0;
  const done = new Promise<{ written: number; sha256: string; error: string | undefined }>((resolve) => {
    let error: string | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      sock.off('drain', pump);
      sock.off('close', onClose);
      resolve({ written, sha256: hash.digest('hex'), error });
    };
    const onClose = (): void => {
      error ??= 'closed before everything was written';
      finish();
    };
    sock.on('error', (err: Error) => {
      error = err.message;
    });
    sock.once('close', onClose);
    function pump(): void {
      while (written < total && !sock.destroyed) {
        const data = stream.next(Math.min(chunk, total - written));
        hash.update(data);
        written += data.length;
        if (!sock.write(data)) return; // 'drain' calls pump again
      }
      if (sock.destroyed) return;
      if (opts.end === false) {
        finish();
        return;
      }
      sock.end(() => finish());
    }
    sock.on('drain', pump);
    pump();
  });
  return { written: () => written, done };
}

/** A reader that hashes everything until the peer's FIN (or an error), and can be paused. */
export interface Drain {
  received(): number;
  readonly done: Promise<{ bytes: number; sha256: string; error: string | undefined }>;
}

/** Hashes what `sock` receives until its end (FIN) or close. */
export function drain(sock: net.Socket): Drain {
  const hash: Hash = createHash('sha256');
  let bytes = 0;
  const done = new Promise<{ bytes: number; sha256: string; error: string | undefined }>((resolve) => {
    let error: string | undefined;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      resolve({ bytes, sha256: hash.digest('hex'), error });
    };
    sock.on('data', (data: Buffer) => {
      bytes += data.length;
      hash.update(data);
    });
    sock.on('error', (err: Error) => {
      error = err.message;
    });
    sock.once('end', settle);
    sock.once('close', settle);
  });
  return { received: () => bytes, done };
}

/** Connects with allowHalfOpen; rejects on error or after `ms`. */
export async function connect(port: number, host: string, ms = 5_000): Promise<net.Socket> {
  const sock = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    }), ms, `connect to ${host}:${port}`);
  } catch (error) {
    sock.destroy();
    throw error;
  }
  return sock;
}

/** Resolves with the first `length` bytes `sock` receives, or rejects on end, error or timeout. */
export function readExactly(sock: net.Socket, length: number, ms: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  let cleanup = (): void => undefined;
  const result = new Promise<Buffer>((resolve, reject) => {
    const onData = (data: Buffer): void => {
      chunks.push(data);
      have += data.length;
      if (have >= length) {
        cleanup();
        resolve(Buffer.concat(chunks).subarray(0, length));
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`connection ended after ${have} of ${length} bytes: ${what}`));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    cleanup = () => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onEnd);
      sock.off('error', onError);
    };
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('close', onEnd);
    sock.once('error', onError);
  });
  return withTimeout(result, ms, what).finally(cleanup);
}

/** Resolves once `sock` has closed (after a FIN, a reset or destroy), or rejects after `ms`. */
export function closed(sock: net.Socket, ms: number, what: string): Promise<void> {
  return withTimeout(new Promise<void>((resolve) => {
    if (sock.destroyed) resolve();
    else sock.once('close', () => resolve());
  }), ms, what);
}

/**
 * One short connection as the churn and concurrency cases make it: connect, send `payload`, read
 * its echo, close. Resolves with the milliseconds it took; rejects on any failure or after `ms`.
 */
export async function echoOnce(port: number, host: string, payload: Buffer, ms: number): Promise<number> {
  const start = performance.now();
  const sock = await connect(port, host, ms);
  try {
    const echoed = readExactly(sock, payload.length, ms, `echo of ${payload.length} bytes`);
    sock.write(payload);
    const got = await echoed;
    if (!got.equals(payload)) throw new Error('echo differs from what was sent');
    const elapsed = performance.now() - start;
    sock.end();
    await closed(sock, ms, 'close after the echo');
    return elapsed;
  } finally {
    sock.destroy();
  }
}

/**
 * Resolves with the milliseconds from `since()` until `sock` sees its peer go: a FIN ('end'; with
 * allowHalfOpen the socket stays open for writing), a reset or a close.
 */
export function peerGone(sock: net.Socket, since: () => number): Promise<number> {
  return new Promise<number>((resolve) => {
    const done = (): void => resolve(performance.now() - since());
    if (sock.destroyed || sock.readableEnded) done();
    sock.once('end', done);
    sock.once('close', done);
  });
}
