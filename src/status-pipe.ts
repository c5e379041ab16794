// The startup handshake with dockerd on fd 3: "0\n" when ready, "1\n<message>" on failure, each in
// ONE write (dockerd reads the status with a single 2-byte read), then the fd is closed.
import { closeSync, fstatSync, readdirSync, readlinkSync, writeSync } from 'node:fs';

const STATUS_FD = 3;

/** StatusPipe reports the startup outcome once; later calls do nothing. */
export interface StatusPipe {
  reportReady(): void;
  reportFailure(message: string): void;
}

/**
 * openStatusPipe decides, before anything else opens descriptors, whether fd 3 is the engine's
 * status pipe. Run by hand, fd 3 is absent and Node itself has put an epoll fd or one end of an
 * internal pipe there: writing to those would corrupt Node, so fd 3 counts only if it is a pipe
 * (anonymous or named) or a socket whose other end is NOT also open in this process.
 */
export function openStatusPipe(): StatusPipe {
  let usable = isInheritedPipe(STATUS_FD);
  const send = (text: string): void => {
    if (!usable) return;
    usable = false;
    try {
      writeSync(STATUS_FD, Buffer.from(text));
    } catch {
      // The engine went away (EPIPE) or never listened: nothing else can be done with the status.
    }
    try {
      closeSync(STATUS_FD);
    } catch {
      // Already closed.
    }
  };
  return { reportReady: () => send('0\n'), reportFailure: (message) => send(`1\n${message}`) };
}

function isInheritedPipe(fd: number): boolean {
  let target: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFIFO() && !stat.isSocket()) return false;
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return false;
  }
  try {
    return !readdirSync('/proc/self/fd').some((name) => {
      if (name === String(fd)) return false;
      try {
        return readlinkSync(`/proc/self/fd/${name}`) === target;
      } catch {
        return false;
      }
    });
  } catch {
    return true;
  }
}
