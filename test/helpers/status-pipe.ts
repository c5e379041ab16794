// fd 3 as dockerd makes it: a real pipe (os.Pipe), not the socketpair Node's stdio 'pipe'
// creates. A FIFO gives the same kind of file, and lets the test keep a non-blocking read end.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Everything the proxy wrote on fd 3, read until it closed its end. */
export interface StatusData {
  readonly text: string;
  /** Number of reads it took; `0\n` written in one write(2) arrives as one chunk. */
  readonly chunks: number;
}

/** The test's side of the status pipe. */
export interface StatusPipe {
  /** The write end, to hand to the child as fd 3; close it with closeWriteEnd() after spawn. */
  readonly writeFd: number;
  closeWriteEnd(): void;
  /** The daemon's read: the first 2 bytes (fewer if the pipe hit EOF first). */
  readonly head: Promise<string>;
  /** All bytes until EOF, i.e. until the child closed fd 3 or exited. */
  readonly all: Promise<StatusData>;
  /** Drops the read end (cleanup). */
  destroy(): void;
}

/** Creates a FIFO, opens both ends and starts reading. */
export function openStatusPipe(): StatusPipe {
  const dir = mkdtempSync(join(tmpdir(), 'docker-proxy-fd3-'));
  const path = join(dir, 'status');
  let readFd: number;
  let writeFd: number;
  try {
    execFileSync('mkfifo', [path]);
    // The read end first, non-blocking, so neither open waits for the other side.
    readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    writeFd = openSync(path, constants.O_WRONLY);
  } finally {
    rmSync(dir, { recursive: true, force: true }); // the open fds keep the FIFO alive
  }
  const reader = new net.Socket({ fd: readFd, readable: true, writable: false });
  const received: Buffer[] = [];
  const all = new Promise<StatusData>((resolve, reject) => {
    reader.on('data', (chunk: Buffer) => received.push(chunk));
    reader.once('end', () => {
      resolve({ text: Buffer.concat(received).toString('latin1'), chunks: received.length });
      reader.destroy();
    });
    reader.once('error', reject);
  });
  const head = new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const bytes = Buffer.concat(received);
      if (bytes.length >= 2) resolve(bytes.subarray(0, 2).toString('latin1'));
    };
    reader.on('data', check);
    all.then((data) => resolve(data.text.slice(0, 2)), reject);
  });
  // Tests that never look at fd 3 must not turn a read error into an unhandled rejection.
  all.catch(() => undefined);
  head.catch(() => undefined);
  let writeOpen = true;
  return {
    writeFd,
    closeWriteEnd: () => {
      if (writeOpen) closeSync(writeFd);
      writeOpen = false;
    },
    head,
    all,
    destroy: () => reader.destroy(),
  };
}
