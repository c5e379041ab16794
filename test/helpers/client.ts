// TCP clients that talk to the proxy's host port, with a deadline on every wait.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { STEP_MS, withTimeout } from './timeout.ts';

export interface ConnectOptions {
  /** Deadline for the handshake (default STEP_MS). */
  readonly ms?: number;
  /** Disable Nagle, where latencies are measured. */
  readonly noDelay?: boolean;
}

/** Connects with allowHalfOpen, so the test decides when its side sends FIN; a failed connect leaves no socket behind. */
export async function connectTcp(host: string, port: number, opts: ConnectOptions = {}): Promise<net.Socket> {
  const sock = net.connect({ host, port, allowHalfOpen: true, noDelay: opts.noDelay ?? false });
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    }), opts.ms ?? STEP_MS, `connect to ${host}:${port}`);
  } catch (error) {
    sock.destroy();
    throw error;
  }
  return sock;
}

/** Everything the peer sends until its FIN; rejects on a reset or other error. */
export function readToEnd(sock: net.Socket): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    sock.on('data', (chunk: Buffer) => chunks.push(chunk));
    sock.once('end', () => resolve(Buffer.concat(chunks)));
    sock.once('error', reject);
  });
}

/** Sends `payload`, half-closes, and returns the full reply (read until the peer's FIN). */
export async function tcpRoundTrip(host: string, port: number, payload: Buffer | string,
  ms = STEP_MS): Promise<Buffer> {
  const sock = await connectTcp(host, port);
  try {
    const reply = readToEnd(sock);
    sock.end(payload);
    return await withTimeout(reply, ms, `reply from ${host}:${port}`);
  } finally {
    sock.destroy();
  }
}

/** Hex sha256 of `data`, for comparing what went in with what came out. */
export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
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
export async function echoOnce(host: string, port: number, payload: Buffer, ms: number): Promise<number> {
  const start = performance.now();
  const sock = await connectTcp(host, port, { ms, noDelay: true });
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
