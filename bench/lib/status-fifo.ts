// dockerd hands the proxy the write end of an os.Pipe as fd 3 and waits for "0\n". Node's
// stdio 'pipe' is a socketpair, not a pipe, so a named pipe (mkfifo) stands in for os.Pipe.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

let counter = 0;

/** A real pipe: pass writeFd as the child's fd 3, close it after spawn, then await `status`. */
export interface StatusFifo {
  readonly writeFd: number;
  closeWriteEnd(): void;
  /** Everything the child wrote to fd 3, with the time the first byte arrived. */
  readonly status: Promise<{ text: string; firstByteAt: number }>;
}

/** Creates a fifo in `dir`, opens both ends, and unlinks it (the open fds keep it alive). */
export function openStatusFifo(dir: string): StatusFifo {
  const path = join(dir, `status-${process.pid}-${counter++}.fifo`);
  execFileSync('mkfifo', ['-m', '600', path]);
  // Read end first and non-blocking, so that opening the write end does not block.
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY);
  unlinkSync(path);
  const reader = new net.Socket({ fd: readFd, readable: true, writable: false });
  const status = new Promise<{ text: string; firstByteAt: number }>((resolve) => {
    let text = '';
    let firstByteAt = 0;
    reader.on('data', (chunk: Buffer) => {
      if (text === '') firstByteAt = performance.now();
      text += chunk.toString();
      // "0\n" is all a healthy proxy writes; it may keep fd 3 open, so do not wait for EOF.
      if (text === '0\n') {
        reader.destroy();
        resolve({ text, firstByteAt });
      }
    });
    reader.on('error', () => undefined);
    reader.on('close', () => resolve({ text, firstByteAt }));
  });
  let open = true;
  return {
    writeFd,
    closeWriteEnd(): void {
      if (open) closeSync(writeFd);
      open = false;
    },
    status,
  };
}
