// Deterministic byte streams for integrity checks: AES-CTR keystreams (cheap, never repeating, so a
// lost, duplicated or reordered chunk changes the checksum), a writer that honours backpressure,
// and a hashing reader.
import { createCipheriv, createHash, type Hash } from 'node:crypto';
import type net from 'node:net';

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
